#include "env_source.hpp"

#include <unistd.h>  // environ

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

namespace micro::config {

EnvSource::EnvSource(const driver::Context& ctx)
    : host_(ctx.host), instanceName_(ctx.instanceName) {
    ctx.config.allowOnly({"prefix"});
    prefix_ = ctx.config.getString("prefix", "MICRO_");
}

void EnvSource::read(driver::DocumentSink& out) {
    std::vector<std::pair<std::string_view, std::string_view>> vars;
    std::vector<std::string> skipped;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view name = entry.substr(0, eq);
        std::string_view value = entry.substr(eq + 1);
        if (!name.starts_with(prefix_) || name.size() == prefix_.size()) continue;
        if (value.find('\n') != std::string_view::npos) {
            skipped.emplace_back(name);
            continue;
        }
        vars.emplace_back(name.substr(prefix_.size()), value);
    }
    std::stable_sort(vars.begin(), vars.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string document;
    for (const auto& [name, value] : vars) {
        document.append(name).append("=").append(value).append("\n");
    }
    driver::Context ctx{host_, instanceName_, driver::Config(nullptr)};
    for (const auto& name : skipped) {
        ctx.log(MICRO_LOG_WARN,
                "environment variable '" + name + "' skipped: its value holds a newline");
    }
    out.emit(document, "env");
}

}  // namespace micro::config
