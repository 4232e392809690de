# micro/service.capnp — the record a service node publishes in the registry.
#
# A record carries each endpoint WITH the Cap'n Proto schemas of its request
# and response (`schemaNodes`), so a tool that never saw the service's code
# (the `micro` CLI, a gateway) can encode JSON for any endpoint and decode its
# reply: micro::codec::SchemaSet::load(record.getSchemaNodes()).
#
# Evolution: only ever add fields at the end of a struct with the next ordinal;
# never renumber, retype or remove one. Readers ignore what they do not know.

@0xca2e8665270ff4c6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("micro::schema");

using Schema = import "/capnp/schema.capnp";

struct ServiceRecord {
  name @0 :Text;                 # the service's name, e.g. "greeter"
  version @1 :Text;              # the service's version, e.g. "1.2.0"
  metadata @2 :List(Entry);
  node @3 :Node;                 # the process that published this record
  endpoints @4 :List(Endpoint);
  subscribers @5 :List(Subscriber);
  schemaNodes @6 :List(Schema.Node);
  # Every struct, enum (and interface) node an endpoint's types reference,
  # transitively, each once. Endpoint.requestType/responseType index it by id.

  struct Entry {
    key @0 :Text;
    value @1 :Text;
  }

  struct Node {
    id @0 :Text;                 # unique per process instance
    address @1 :Text;            # where the transport reaches it, e.g. "127.0.0.1:7001"
    metadata @2 :List(Entry);
    transport @3 :Text;          # the transport's name, e.g. "tcp"
  }

  struct Endpoint {
    name @0 :Text;               # e.g. "Greeter.Hello"
    requestType @1 :UInt64;      # a Schema.Node id in schemaNodes; 0 = raw bytes
    responseType @2 :UInt64;     # likewise
    clientStream @3 :Bool;
    serverStream @4 :Bool;
    idempotent @5 :Bool;
    metadata @6 :List(Entry);
  }

  struct Subscriber {
    topic @0 :Text;
    group @1 :Text;              # queue group; empty = every subscriber gets every message
    metadata @2 :List(Entry);
  }
}

struct SchemaBundle {
  # A self-contained set of schema nodes on its own (SchemaSet::serialize).
  nodes @0 :List(Schema.Node);
}
