// plugins/memory/plugin.cpp — micro-memory.so: the embedded defaults, every
// backend in process memory, no server to run (see plugins.toml).
#include <micro/driver/auth.hpp>
#include <micro/driver/broker.hpp>
#include <micro/driver/registry.hpp>
#include <micro/driver/store.hpp>
#include <micro/driver/sync.hpp>
#include <micro/driver/transport.hpp>

#include "inproc_transport.hpp"
#include "memory_broker.hpp"
#include "memory_registry.hpp"
#include "memory_store.hpp"
#include "memory_sync.hpp"
#include "noop_auth.hpp"

using namespace micro::driver;
using namespace micro::memory;

MICRO_PLUGIN("micro-memory", "0.1.0",
             "In-process drivers: store, broker, registry, sync, auth, transport",
             MICRO_DRIVER(StoreDriver<MemoryStore>, "memory", "0.1.0",
                          "records in process memory, lost on exit"),
             MICRO_DRIVER(BrokerDriver<MemoryBroker>, "memory", "0.1.0",
                          "in-process publish/subscribe with queue groups"),
             MICRO_DRIVER(RegistryDriver<MemoryRegistry>, "memory", "0.1.0",
                          "service nodes with TTL in process memory"),
             MICRO_DRIVER(SyncDriver<MemorySync>, "memory", "0.1.0",
                          "leased locks and leader election in process memory"),
             MICRO_DRIVER(AuthDriver<NoopAuth>, "noop", "0.1.0",
                          "no authentication: every caller is who it claims"),
             MICRO_DRIVER(TransportDriver<InprocTransport>, "inproc", "0.1.0",
                          "message pipes between listeners and dialers in one process"));
