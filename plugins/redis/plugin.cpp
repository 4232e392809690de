// plugins/redis/plugin.cpp — micro-redis.so: drivers backed by a Redis
// server, for services that outgrow one host.
#include <micro/driver/broker.hpp>
#include <micro/driver/store.hpp>

#include "broker_redis.hpp"
#include "redis_store.hpp"

using namespace micro::driver;
using namespace micro::redis;

MICRO_PLUGIN("micro-redis", "0.1.0", "Drivers backed by a Redis server (hiredis)",
             MICRO_DRIVER(StoreDriver<RedisStore>, "redis", "0.1.0",
                          "records in Redis: native TTL, indexed prefix/suffix reads, Lua "
                          "compare-and-set batches, a self-healing connection pool"),
             MICRO_DRIVER(BrokerDriver<RedisBroker>, "redis", "0.1.0",
                          "messages through Redis: Streams consumer groups (at-least-once) "
                          "or Pub/Sub (at-most-once)"));
