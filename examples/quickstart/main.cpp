// micro-quickstart — the whole embedding story in one screen: load the
// manifest, then use the store, the broker and a lock through whatever
// drivers it names. Change plugins.toml, not this code, to change backends.
//
//   micro-quickstart [--manifest FILE]
#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

int main(int argc, char** argv) try {
    std::optional<std::filesystem::path> manifest;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--manifest" && i + 1 < argc) {
            manifest = argv[++i];
        } else {
            fmt::print(stderr, "usage: micro-quickstart [--manifest FILE]\n");
            return 2;
        }
    }

    micro::Runtime rt = micro::Runtime::load(micro::findManifest(manifest));
    fmt::print("loaded {}\n", rt.manifestPath().string());
    for (const auto& slot : rt.loaded()) {
        fmt::print("  [{}] {} from {}\n", slot.slot, slot.driver, slot.plugin.filename().string());
    }

    // A record: write, read back with its version.
    rt.store().write({.key = "greeting", .value = "hello, micro"});
    micro::Record record = rt.store().read("greeting").at(0);
    fmt::print("store:  read '{}' = '{}' (version {})\n", record.key, record.value, record.version);

    // A message: subscribe, publish, wait for delivery.
    std::mutex mutex;
    std::condition_variable arrived;
    std::string received;
    micro::Subscription sub = rt.broker().subscribe("events", [&](const micro::MessageView& m) {
        std::lock_guard lock(mutex);
        received = m.body;
        arrived.notify_one();
    });
    rt.broker().publish("events", "order 42 created");
    {
        std::unique_lock lock(mutex);
        if (!arrived.wait_for(lock, std::chrono::seconds(5), [&] { return !received.empty(); })) {
            fmt::print(stderr, "micro-quickstart: no message arrived within 5 s\n");
            return 1;
        }
    }
    fmt::print("broker: received '{}' on 'events'\n", received);

    // A lock: take it (fencing token), release it.
    micro::Lease lease = rt.sync().lock("quickstart", {.ttl = std::chrono::seconds(5)});
    fmt::print("sync:   locked '{}' with fencing token {}\n", lease.id, lease.token);
    rt.sync().unlock(lease);
    fmt::print("sync:   unlocked '{}'\n", lease.id);
    return 0;
} catch (const micro::Error& e) {
    fmt::print(stderr, "micro-quickstart: {}\n", e.what());
    return 1;
}
