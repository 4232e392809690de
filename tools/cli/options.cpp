#include "options.hpp"

#include <micro/error.hpp>

#include <charconv>
#include <string>
#include <string_view>

namespace micro::cli {

Options Options::parse(int argc, char** argv, int first, bool passThrough) {
    Options o;
    for (int i = first; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            o.help = true;
        } else if (passThrough && a != "--manifest" && !a.starts_with("--manifest=")) {
            o.args.emplace_back(a);
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--stream") {
            o.stream = true;
        } else if (a == "--timeout") {
            if (i + 1 >= argc) throw Error(Code::kInvalidArgument, "--timeout needs milliseconds");
            std::string_view v = argv[++i];
            long long ms = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
            if (ec != std::errc() || end != v.data() + v.size() || ms <= 0) {
                throw Error(Code::kInvalidArgument, "--timeout needs milliseconds, got '" +
                                                        std::string(v) + "'");
            }
            o.timeout = std::chrono::milliseconds(ms);
        } else if (a == "--manifest") {
            if (i + 1 >= argc) throw Error(Code::kInvalidArgument, "--manifest needs a file");
            o.manifest = argv[++i];
        } else if (a.starts_with("--manifest=")) {
            o.manifest = std::string(a.substr(11));
        } else if (a.starts_with("-") && a != "-") {
            throw Error(Code::kInvalidArgument, "unknown option '" + std::string(a) + "'");
        } else {
            o.args.emplace_back(a);
        }
    }
    return o;
}

}  // namespace micro::cli
