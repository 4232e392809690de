#include "options.hpp"

#include <micro/error.hpp>

#include <string_view>

namespace micro::cli {

Options Options::parse(int argc, char** argv, int first) {
    Options o;
    for (int i = first; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            o.help = true;
        } else if (a == "--json") {
            o.json = true;
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
