# The greeter example's messages.
@0x89f3b32bfe770ec7;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("greeter");

struct HelloRequest {
  name @0 :Text;
}

struct HelloResponse {
  greeting @0 :Text;
}

# The event greeter-server subscribes to on the topic "greeter.welcome":
#   micro publish greeter.welcome '{"name":"Ada"}'
struct Welcome {
  name @0 :Text;
}
