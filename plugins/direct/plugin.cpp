// micro-direct.so: the "direct" broker, publish/subscribe with no broker
// server (subscribers found in the registry, reached over the transport).
#include <micro/driver/broker.hpp>

#include "direct_broker.hpp"

MICRO_PLUGIN("micro-direct", "1.0.0",
             "Broker with no server: direct delivery to subscribers found in the registry",
             MICRO_DRIVER(micro::driver::BrokerDriver<micro::direct::DirectBroker>, "direct",
                          "1.0.0",
                          "publish/subscribe straight to the subscribing processes, at-most-once"));
