// /health and /metrics over HTTP (see micro/admin.hpp).
#include <micro/admin.hpp>
#include <micro/metrics.hpp>

#include "../http/json_text.hpp"
#include "../rpc/protocol.hpp"
#include "admin_routes.hpp"

namespace micro {

namespace {

const char* flag(bool b) noexcept { return b ? "true" : "false"; }

}  // namespace

std::string healthJson(const HealthStatus& s) {
    std::string out = "{\"status\":";
    http::appendJsonString(out, s.ready()    ? "ready"
                                : !s.live    ? "stopping"
                                : s.draining ? "draining"
                                             : "not registered");
    out += ",\"live\":";
    out += flag(s.live);
    out += ",\"ready\":";
    out += flag(s.ready());
    out += ",\"service\":";
    http::appendJsonString(out, s.service);
    out += ",\"node\":";
    http::appendJsonString(out, s.node);
    out += ",\"registered\":";
    out += flag(s.registered);
    out += ",\"draining\":";
    out += flag(s.draining);
    out += ",\"inFlight\":";
    out += std::to_string(s.inFlight);
    out += ",\"plugins\":[";
    for (std::size_t i = 0; i < s.plugins.size(); ++i) {
        if (i > 0) out += ',';
        out += "{\"slot\":";
        http::appendJsonString(out, s.plugins[i].slot);
        out += ",\"driver\":";
        http::appendJsonString(out, s.plugins[i].driver);
        out += ",\"plugin\":";
        http::appendJsonString(out, s.plugins[i].plugin.string());
        out += '}';
    }
    out += "]}";
    return out;
}

namespace admin {

std::optional<http::Response> adminRoute(const http::Request& request,
                                         const std::function<HealthStatus()>& health) {
    std::string_view path = request.path();
    if (path != "/health" && path != "/metrics") return std::nullopt;
    if (request.method != "GET") {
        http::Response r =
            http::makeResponse(405, "application/json",
                               rpc::errorJson("micro.admin", Code::kInvalidArgument,
                                              std::string(path) + " answers GET only"));
        r.headers.emplace_back("Allow", "GET");
        return r;
    }
    if (path == "/metrics") {
        return http::makeResponse(200, std::string(metrics::kExpositionContentType),
                                  metrics::Registry::global().expose());
    }
    HealthStatus status = health();
    return http::makeResponse(status.ready() ? 200 : 503, "application/json", healthJson(status));
}

}  // namespace admin

struct AdminServer::Impl {
    std::function<HealthStatus()> health;
    std::unique_ptr<http::Server> server;
};

AdminServer::AdminServer(AdminOptions options) : impl_(std::make_unique<Impl>()) {
    if (!options.health) {
        throw Error(Code::kInvalidArgument, "AdminServer needs a health callback");
    }
    impl_->health = std::move(options.health);
    http::ServerOptions http;
    http.address = options.address;
    http.threads = 1;
    http.maxBodyBytes = 64 * 1024;
    Impl* impl = impl_.get();
    impl_->server = std::make_unique<http::Server>(
        std::move(http), [impl](const http::Request& request, http::Reply reply) {
            try {
                if (auto r = admin::adminRoute(request, impl->health)) {
                    reply(std::move(*r));
                    return;
                }
                reply(http::makeResponse(
                    404, "application/json",
                    rpc::errorJson("micro.admin", Code::kNotFound,
                                   "no such path '" + std::string(request.path()) +
                                       "' (try /health or /metrics)")));
            } catch (const std::exception& e) {
                reply(http::makeResponse(500, "application/json",
                                         rpc::errorJson("micro.admin", Code::kInternal, e.what())));
            }
        });
}

AdminServer::~AdminServer() { stop(); }

const std::string& AdminServer::address() const noexcept { return impl_->server->address(); }

void AdminServer::stop() noexcept { impl_->server->stop(); }

}  // namespace micro
