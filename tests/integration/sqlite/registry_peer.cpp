// sqlite-registry-peer — a second process for the cross-process registry
// tests: it loads a manifest into its own micro::Runtime and acts on the
// registry the manifest selects.
//
//   sqlite-registry-peer MANIFEST hold SERVICE NODE TTL_MS RECORD_HEX
//       register the node, then refresh it every TTL_MS/3 until killed
//   sqlite-registry-peer MANIFEST register SERVICE NODE TTL_MS RECORD_HEX [COUNT]
//       register the node (COUNT > 1: nodes NODE-0 .. NODE-<COUNT-1>) and
//       exit without deregistering
//
// RECORD_HEX is the record as hex digits, so a record may hold any byte.
// Exit codes: 0 done, 1 a micro::Error (printed on stderr), 2 bad usage.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string fromHex(const std::string& hex) {
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument(std::string("not a hex digit: ") + c);
    };
    if (hex.size() % 2 != 0) throw std::invalid_argument("odd number of hex digits");
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
    }
    return out;
}

int usage() {
    std::fputs(
        "usage: sqlite-registry-peer MANIFEST hold SERVICE NODE TTL_MS RECORD_HEX\n"
        "       sqlite-registry-peer MANIFEST register SERVICE NODE TTL_MS RECORD_HEX [COUNT]\n",
        stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 6) return usage();
    const std::string& command = args[1];
    micro::Node node;
    std::int64_t count = 1;
    try {
        node.service = args[2];
        node.node = args[3];
        node.ttl = std::chrono::milliseconds(std::stoll(args[4]));
        node.record = fromHex(args[5]);
        if (args.size() > 6) count = std::stoll(args[6]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sqlite-registry-peer: %s\n", e.what());
        return usage();
    }
    try {
        micro::Runtime runtime = micro::Runtime::load(args[0]);
        micro::Registry& registry = runtime.registry();
        if (command == "register") {
            const std::string base = node.node;
            for (std::int64_t i = 0; i < count; ++i) {
                if (count > 1) node.node = base + "-" + std::to_string(i);
                registry.registerNode(node);
            }
            return 0;
        }
        if (command == "hold") {
            auto every = node.ttl.count() > 0 ? node.ttl / 3 : std::chrono::milliseconds(1000);
            for (;;) {
                registry.registerNode(node);
                std::this_thread::sleep_for(every);
            }
        }
        return usage();
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "sqlite-registry-peer: %s\n", e.what());
        return 1;
    }
}
