# Test schema for the codecs: every kind of field.
@0x89554b35aee55f58;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("micro::codec_test");

enum Color {
  red @0;
  green @1;
  blue @2;
}

struct Inner {
  label @0 :Text;
  count @1 :UInt8;
}

struct Everything {
  text @0 :Text;
  data @1 :Data;
  flag @2 :Bool;
  i8 @3 :Int8;
  i16 @4 :Int16;
  i32 @5 :Int32;
  i64 @6 :Int64;
  u8 @7 :UInt8;
  u16 @8 :UInt16;
  u32 @9 :UInt32;
  u64 @10 :UInt64;
  f32 @11 :Float32;
  f64 @12 :Float64;
  color @13 :Color;
  inner @14 :Inner;
  inners @15 :List(Inner);
  tags @16 :List(Text);
  numbers @17 :List(Int64);
  matrix @18 :List(List(Int32));
  colors @19 :List(Color);
  blobs @20 :List(Data);

  union {
    none @21 :Void;
    name @22 :Text;
    point @23 :Inner;
  }

  grp :group {
    a @24 :Int32;
    b @25 :Text;
  }

  choice :union {
    x @26 :Int32;
    y @27 :Text;
  }

  withDefault @28 :Int32 = 42;
  nothing @29 :Void;
  anything @30 :AnyPointer;
}

struct HelloRequest {
  name @0 :Text;
}

struct HelloResponse {
  greeting @0 :Text;
}

struct Tree {
  label @0 :Text;
  children @1 :List(Tree);
}

# Used by one test only, so that its threads are the first to encode it.
struct FirstSeen {
  label @0 :Text;
  count @1 :Int32;
  inner @2 :Inner;
  union {
    none @3 :Void;
    word @4 :Text;
  }
}
