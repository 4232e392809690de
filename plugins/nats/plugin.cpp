// plugins/nats/plugin.cpp — micro-nats.so: a broker on a NATS server, core
// NATS or JetStream.
//
// The client library keeps process-wide threads of its own (timers, garbage
// collection) after the last connection is destroyed, and cannot be opened
// again once closed. So the plugin is linked with -z nodelete (CMakeLists):
// unloading it keeps the code those threads run mapped, and a later load in
// the same process finds the library still open.
#include <micro/driver/broker.hpp>

#include "nats_broker.hpp"

using namespace micro::driver;
using namespace micro::nats;

MICRO_PLUGIN("micro-nats", "0.1.0", "A broker on a NATS server (libnats)",
             MICRO_DRIVER(BrokerDriver<NatsBroker>, "nats", "0.1.0",
                          "publish/subscribe on NATS: core (at-most-once) or JetStream "
                          "(at-least-once, durable queue groups)"));
