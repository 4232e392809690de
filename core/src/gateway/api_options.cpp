// ApiOptions::load: the [api] table of a TOML file (see micro/gateway.hpp).
#include <micro/error.hpp>
#include <micro/gateway.hpp>

#include <fmt/core.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

namespace micro {

namespace {

class Reader {
 public:
    explicit Reader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const toml::node& node, std::string_view key,
                           std::string_view what) const {
        throw Error(Code::kInvalidArgument,
                    fmt::format("{}:{}: [api] {}: {}", file_, node.source().begin.line, key, what));
    }

    std::int64_t positive(const toml::node& node, std::string_view key) const {
        const auto* v = node.as_integer();
        if (v == nullptr || v->get() <= 0) fail(node, key, "must be a positive integer");
        return v->get();
    }

    std::string text(const toml::node& node, std::string_view key) const {
        const auto* v = node.as_string();
        if (v == nullptr) fail(node, key, "must be a string");
        return v->get();
    }

 private:
    std::string file_;
};

}  // namespace

ApiOptions ApiOptions::load(const std::filesystem::path& file, ApiOptions base) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(Code::kNotFound,
                    fmt::format("{}: gateway config cannot be read (missing or unreadable)",
                                file.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    toml::table root;
    try {
        root = toml::parse(text.str(), file.string());
    } catch (const toml::parse_error& e) {
        throw Error(Code::kInvalidArgument, fmt::format("{}:{}: not valid TOML: {}", file.string(),
                                                        e.source().begin.line, e.description()));
    }
    const toml::node* apiNode = root.get("api");
    if (apiNode == nullptr) return base;
    Reader r(file.string());
    const toml::table* api = apiNode->as_table();
    if (api == nullptr) r.fail(*apiNode, "api", "must be a table");
    using ms = std::chrono::milliseconds;
    for (const auto& [key, node] : *api) {
        std::string_view k = key.str();
        if (k == "address") {
            base.address = r.text(node, k);
        } else if (k == "threads") {
            base.threads = static_cast<std::size_t>(r.positive(node, k));
        } else if (k == "cors_origins") {
            const toml::array* list = node.as_array();
            if (list == nullptr) r.fail(node, k, "must be an array of strings");
            base.corsOrigins.clear();
            for (const auto& item : *list) base.corsOrigins.push_back(r.text(item, k));
        } else if (k == "timeout_ms") {
            base.timeout = ms(r.positive(node, k));
        } else if (k == "max_timeout_ms") {
            base.maxTimeout = ms(r.positive(node, k));
        } else if (k == "header_timeout_ms") {
            base.headerTimeout = ms(r.positive(node, k));
        } else if (k == "idle_timeout_ms") {
            base.idleTimeout = ms(r.positive(node, k));
        } else if (k == "max_header_bytes") {
            base.maxHeaderBytes = static_cast<std::size_t>(r.positive(node, k));
        } else if (k == "max_body_bytes") {
            base.maxBodyBytes = static_cast<std::size_t>(r.positive(node, k));
        } else {
            r.fail(node, k,
                   "unknown key (expected address, threads, cors_origins, timeout_ms, "
                   "max_timeout_ms, header_timeout_ms, idle_timeout_ms, max_header_bytes, "
                   "max_body_bytes)");
        }
    }
    return base;
}

}  // namespace micro
