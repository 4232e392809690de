// Parsing and validating plugins.toml (see micro/manifest.hpp).
#include <micro/error.hpp>
#include <micro/manifest.hpp>

#include <fmt/core.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

namespace micro {

namespace {

struct SlotKind {
    std::string_view name;
    micro_kind kind;
};

constexpr std::array<SlotKind, 6> kSlots = {{{"registry", MICRO_KIND_REGISTRY},
                                             {"transport", MICRO_KIND_TRANSPORT},
                                             {"broker", MICRO_KIND_BROKER},
                                             {"store", MICRO_KIND_STORE},
                                             {"auth", MICRO_KIND_AUTH},
                                             {"sync", MICRO_KIND_SYNC}}};

constexpr std::string_view kSlotList =
    "registry, transport, broker, store, auth, sync, config.source";

int lineOf(const toml::node& node) noexcept { return static_cast<int>(node.source().begin.line); }

// JSON text of a TOML array or inline value, for array-valued config keys.
std::string toJson(const toml::node& node) {
    std::ostringstream out;
    out << toml::json_formatter{node};
    return out.str();
}

void flatten(const toml::table& table, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
    for (const auto& [key, value] : table) {
        std::string name =
            prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
        if (prefix.empty() && (name == "plugin" || name == "driver")) continue;
        if (const auto* sub = value.as_table()) {
            flatten(*sub, name, out);
        } else if (const auto* s = value.as_string()) {
            out.emplace_back(name, s->get());
        } else if (const auto* b = value.as_boolean()) {
            out.emplace_back(name, b->get() ? "true" : "false");
        } else if (const auto* i = value.as_integer()) {
            out.emplace_back(name, std::to_string(i->get()));
        } else if (const auto* f = value.as_floating_point()) {
            out.emplace_back(name, fmt::format("{}", f->get()));
        } else if (value.is_array()) {
            out.emplace_back(name, toJson(value));
        } else {
            // Dates and times: their TOML spelling.
            value.visit([&](const auto& v) {
                std::ostringstream text;
                text << v;
                out.emplace_back(name, text.str());
            });
        }
    }
}

class Parser {
 public:
    explicit Parser(const std::filesystem::path& path) : file_(path.string()) {}

    [[noreturn]] void fail(int line, const std::string& what) const {
        throw Error(Code::kInvalidArgument, line > 0 ? fmt::format("{}:{}: {}", file_, line, what)
                                                     : fmt::format("{}: {}", file_, what));
    }

    SlotSpec slot(const toml::node& node, std::string slotName, micro_kind kind) const {
        const toml::table* table = node.as_table();
        std::string shown = "[" + slotName + "]";
        if (table == nullptr) fail(lineOf(node), shown + " must be a table");
        SlotSpec spec;
        spec.slot = std::move(slotName);
        spec.kind = kind;
        spec.line = lineOf(node);
        spec.plugin = requiredString(*table, "plugin", shown, spec.line);
        spec.driver = requiredString(*table, "driver", shown, spec.line);
        flatten(*table, "", spec.config);
        return spec;
    }

 private:
    std::string requiredString(const toml::table& table, std::string_view key,
                               const std::string& shown, int line) const {
        const toml::node* node = table.get(key);
        if (node == nullptr) fail(line, fmt::format("{} has no '{}' key", shown, key));
        const auto* value = node->as_string();
        if (value == nullptr || value->get().empty()) {
            fail(lineOf(*node), fmt::format("{} key '{}' must be a non-empty string", shown, key));
        }
        return value->get();
    }

    std::string file_;
};

}  // namespace

const char* kindName(micro_kind kind) noexcept {
    switch (kind) {
        case MICRO_KIND_REGISTRY:
            return "registry";
        case MICRO_KIND_TRANSPORT:
            return "transport";
        case MICRO_KIND_BROKER:
            return "broker";
        case MICRO_KIND_STORE:
            return "store";
        case MICRO_KIND_AUTH:
            return "auth";
        case MICRO_KIND_SYNC:
            return "sync";
        case MICRO_KIND_CONFIG_SOURCE:
            return "config source";
        default:
            return "unknown";
    }
}

Manifest Manifest::load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(
            Code::kNotFound,
            fmt::format("{}: manifest cannot be read (missing or unreadable)", file.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), file);
}

Manifest Manifest::parse(std::string_view text, const std::filesystem::path& path) {
    Parser parser(path);
    toml::table root;
    try {
        root = toml::parse(text, path.string());
    } catch (const toml::parse_error& e) {
        parser.fail(static_cast<int>(e.source().begin.line),
                    fmt::format("not valid TOML: {}", e.description()));
    }
    Manifest manifest;
    manifest.path = path;
    for (const auto& [key, node] : root) {
        std::string_view name = key.str();
        if (name == "config") {
            const toml::table* config = node.as_table();
            if (config == nullptr) parser.fail(lineOf(node), "[config] must be a table");
            for (const auto& [subkey, subnode] : *config) {
                if (subkey.str() != "source") {
                    parser.fail(lineOf(subnode),
                                fmt::format("unknown slot 'config.{}' (expected one of {})",
                                            subkey.str(), kSlotList));
                }
                const toml::array* sources = subnode.as_array();
                if (sources == nullptr) {
                    parser.fail(lineOf(subnode),
                                "config.source must be an array of tables: [[config.source]]");
                }
                for (std::size_t i = 0; i < sources->size(); ++i) {
                    manifest.slots.push_back(parser.slot((*sources)[i],
                                                         fmt::format("config.source[{}]", i),
                                                         MICRO_KIND_CONFIG_SOURCE));
                }
            }
            continue;
        }
        const SlotKind* slot = nullptr;
        for (const auto& candidate : kSlots) {
            if (candidate.name == name) slot = &candidate;
        }
        if (slot == nullptr) {
            parser.fail(lineOf(node),
                        fmt::format("unknown slot '{}' (expected one of {})", name, kSlotList));
        }
        manifest.slots.push_back(parser.slot(node, std::string(name), slot->kind));
    }
    // TOML tables have no order; instantiate in dependency order instead
    // (registry, transport, broker, store, auth, sync, config sources), which
    // is the order of the kind ids.
    std::stable_sort(manifest.slots.begin(), manifest.slots.end(),
                     [](const SlotSpec& a, const SlotSpec& b) { return a.kind < b.kind; });
    return manifest;
}

}  // namespace micro
