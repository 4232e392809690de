// `micro store read|write|delete|list` — the store the manifest selects.
//
//   micro store read KEY [--prefix] [--suffix] [--limit N] [--offset M]
//   micro store write KEY VALUE [--ttl MS] [--version V]
//   micro store delete KEY
//   micro store list [--prefix P] [--suffix S] [--limit N] [--offset M]
// Every verb takes --database D --table T, --manifest FILE and --json.
#include <micro/driver/text.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace micro::cli {

namespace {

struct StoreArgs {
    std::vector<std::string> positional;
    std::string database, table, prefix, suffix;
    bool prefixFlag = false, suffixFlag = false, json = false;
    std::uint64_t limit = 0, offset = 0, version = 0, ttlMs = 0;
};

std::uint64_t number(std::string_view flag, std::string_view v) {
    std::uint64_t out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("{} needs a non-negative integer, got '{}'", flag, v));
    }
    return out;
}

// Flags that take a value in one verb (list --prefix P) are plain switches
// in another (read KEY --prefix), so the verb decides.
StoreArgs parse(const std::vector<std::string>& args, bool prefixTakesValue) {
    StoreArgs s;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= args.size()) {
                throw Error(Code::kInvalidArgument, fmt::format("{} needs a value", a));
            }
            return args[++i];
        };
        if (a == "--database")
            s.database = value();
        else if (a == "--table")
            s.table = value();
        else if (a == "--limit")
            s.limit = number(a, value());
        else if (a == "--offset")
            s.offset = number(a, value());
        else if (a == "--version")
            s.version = number(a, value());
        else if (a == "--ttl")
            s.ttlMs = number(a, value());
        else if (a == "--json")
            s.json = true;
        else if (a == "--prefix" && prefixTakesValue)
            s.prefix = value();
        else if (a == "--suffix" && prefixTakesValue)
            s.suffix = value();
        else if (a == "--prefix")
            s.prefixFlag = true;
        else if (a == "--suffix")
            s.suffixFlag = true;
        else if (a.starts_with("--")) {
            throw Error(Code::kInvalidArgument, fmt::format("unknown option '{}'", a));
        } else {
            s.positional.emplace_back(a);
        }
    }
    return s;
}

void printRecord(const Record& r, bool json) {
    if (!json) {
        fmt::print("{}\t{}\n", r.key, r.value);
        return;
    }
    std::string md;
    for (const auto& [k, v] : r.metadata) {
        md += fmt::format("{}{}:{}", md.empty() ? "" : ",", driver::jsonQuoted(k),
                          driver::jsonQuoted(v));
    }
    fmt::print(
        "{{\"key\":{},\"value\":{},\"metadata\":{{{}}},\"expiry_unix_ms\":{},\"version\":{}}}\n",
        driver::jsonQuoted(r.key), driver::jsonQuoted(r.value), md, r.expiryUnixMs, r.version);
}

}  // namespace

int store(const Options& options) {
    if (options.args.empty()) {
        throw Error(Code::kInvalidArgument,
                    "usage: micro store read|write|delete|list ... (see micro --help)");
    }
    const std::string& verb = options.args[0];
    std::vector<std::string> rest(options.args.begin() + 1, options.args.end());
    StoreArgs s = parse(rest, verb == "list");
    bool json = s.json || options.json;
    Runtime rt = Runtime::load(findManifest(options.manifest));
    Store& store = rt.store();
    if (verb == "read") {
        if (s.positional.size() != 1)
            throw Error(Code::kInvalidArgument, "usage: micro store read KEY");
        ReadOptions o{.database = s.database,
                      .table = s.table,
                      .prefix = s.prefixFlag,
                      .suffix = s.suffixFlag,
                      .limit = s.limit,
                      .offset = s.offset};
        for (const Record& r : store.read(s.positional[0], o)) printRecord(r, json);
        return 0;
    }
    if (verb == "write") {
        if (s.positional.size() != 2) {
            throw Error(Code::kInvalidArgument, "usage: micro store write KEY VALUE");
        }
        WriteOptions o{.database = s.database,
                       .table = s.table,
                       .ttl = std::chrono::milliseconds(s.ttlMs),
                       .expectedVersion = s.version};
        std::uint64_t version = store.write(Record{s.positional[0], s.positional[1]}, o);
        if (json) {
            fmt::print("{{\"key\":{},\"version\":{}}}\n", driver::jsonQuoted(s.positional[0]),
                       version);
        } else {
            fmt::print("version {}\n", version);
        }
        return 0;
    }
    if (verb == "delete") {
        if (s.positional.size() != 1)
            throw Error(Code::kInvalidArgument, "usage: micro store delete KEY");
        store.erase(s.positional[0], {.database = s.database, .table = s.table});
        return 0;
    }
    if (verb == "list") {
        if (!s.positional.empty())
            throw Error(Code::kInvalidArgument, "usage: micro store list [--prefix P]");
        ReadOptions o{.database = s.database,
                      .table = s.table,
                      .suffix = !s.suffix.empty(),
                      .limit = s.limit,
                      .offset = s.offset};
        std::string match = s.suffix.empty() ? s.prefix : s.suffix;
        if (!s.prefix.empty() && !s.suffix.empty()) {
            throw Error(Code::kInvalidArgument, "list takes --prefix or --suffix, not both");
        }
        std::vector<std::string> keys = store.list(match, o);
        if (json) {
            std::string out;
            for (const auto& k : keys) out += (out.empty() ? "" : ",") + driver::jsonQuoted(k);
            fmt::print("[{}]\n", out);
        } else {
            for (const auto& k : keys) fmt::print("{}\n", k);
        }
        return 0;
    }
    throw Error(Code::kInvalidArgument, fmt::format("unknown store verb '{}'", verb));
}

}  // namespace micro::cli
