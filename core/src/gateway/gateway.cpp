// The API gateway (see micro/gateway.hpp): HTTP requests in, RPCs through
// micro::Client out.
#include <micro/admin.hpp>
#include <micro/driver/cpu_budget.hpp>
#include <micro/driver/worker_pool.hpp>
#include <micro/gateway.hpp>
#include <micro/metrics.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <atomic>

#include "../admin/admin_routes.hpp"
#include "../http/json_text.hpp"
#include "../http/server.hpp"
#include "../rpc/protocol.hpp"
#include "routes.hpp"

namespace micro {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kGatewayId = "micro.api";

int statusFor(Code code) noexcept {
    switch (code) {
        case Code::kOk:
            return 200;
        case Code::kNotFound:
            return 404;
        case Code::kInvalidArgument:
            return 400;
        case Code::kUnauthenticated:
            return 401;
        case Code::kPermissionDenied:
            return 403;
        case Code::kDeadlineExceeded:
            return 504;
        case Code::kUnavailable:
            return 503;
        default:
            return 500;
    }
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) noexcept {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char x = s[i], y = prefix[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// A header name the gateway may emit: an HTTP token.
bool isToken(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool isFieldValue(std::string_view s) noexcept {
    for (char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
}

http::Response errorResponse(std::string_view id, Code code, std::string_view detail) {
    return http::makeResponse(statusFor(code), "application/json",
                              rpc::errorJson(id, code, detail));
}

// What a request to /{service}/{method} asks for, before routing.
struct Target {
    std::string_view service;
    std::string_view method;
};

std::optional<Target> splitTarget(std::string_view path) {
    if (path.size() < 2 || path[0] != '/') return std::nullopt;
    std::string_view rest = path.substr(1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    Target t{rest.substr(0, slash), rest.substr(slash + 1)};
    if (t.method.empty() || t.method.find('/') != std::string_view::npos) return std::nullopt;
    return t;
}

}  // namespace

struct ApiGateway::Impl {
    Runtime& runtime;
    ApiOptions options;
    Client client;
    gateway::RouteTable routes;
    std::unique_ptr<driver::WorkerPool> lookups;  // registry lookups, off the HTTP threads
    std::unique_ptr<http::Server> server;
    std::atomic<bool> stopping{false};

    metrics::Family<metrics::Counter>& requests = metrics::Registry::global().counter(
        "micro_api_requests_total", "Calls the API gateway made, by service, endpoint and code.",
        {"service", "endpoint", "code"});
    metrics::Family<metrics::Histogram>& duration = metrics::Registry::global().histogram(
        "micro_api_request_duration_seconds",
        "Time from a gateway request to its reply, by service and endpoint.",
        {"service", "endpoint"});
    metrics::Family<metrics::Counter>& rejected = metrics::Registry::global().counter(
        "micro_api_rejected_total", "Gateway requests answered without a call, by HTTP status.",
        {"status"});
    metrics::Gauge& inFlight =
        metrics::Registry::global()
            .gauge("micro_api_in_flight", "Calls the API gateway is waiting for.", {})
            .with({});

    Impl(Runtime& rt, ApiOptions o)
        : runtime(rt),
          options(std::move(o)),
          client(rt, options.client),
          routes(rt.registry(), options.client.cacheTtl) {}

    HealthStatus health() const {
        HealthStatus s;
        s.service = "micro-api";
        s.live = !stopping.load();
        s.registered = true;  // a gateway registers nothing
        s.inFlight = inFlight.value();
        s.plugins = runtime.loaded();
        return s;
    }

    // CORS headers for a request from `origin`, if it is allowed.
    void addCors(std::string_view origin, http::Response& r) const {
        if (options.corsOrigins.empty() || origin.empty()) return;
        for (const auto& allowed : options.corsOrigins) {
            if (allowed == "*" || allowed == origin) {
                r.headers.emplace_back("Access-Control-Allow-Origin",
                                       allowed == "*" ? "*" : std::string(origin));
                if (allowed != "*") r.headers.emplace_back("Vary", "Origin");
                r.headers.emplace_back("Access-Control-Expose-Headers", "*");
                return;
            }
        }
    }

    void reject(const http::Request& req, const http::Reply& reply, http::Response r) {
        rejected.with({std::to_string(r.status)}).add();
        addCors(req.header("Origin"), r);
        reply(std::move(r));
    }

    void handle(const http::Request& req, const http::Reply& reply) {
        std::string_view path = req.path();
        if (req.method == "OPTIONS") return preflight(req, reply);
        if (auto r = admin::adminRoute(req, [this] { return health(); })) {
            addCors(req.header("Origin"), *r);
            return reply(std::move(*r));
        }
        if (path == "/") {
            if (req.method != "GET") return methodNotAllowed(req, reply, "GET");
            lookups->post([this, &req, reply] { list(req, reply); });
            return;
        }
        auto target = splitTarget(path);
        if (!target) {
            return reject(req, reply,
                          errorResponse(kGatewayId, Code::kNotFound,
                                        fmt::format("no route for '{}': call POST "
                                                    "/{{service}}/{{endpoint}}",
                                                    path)));
        }
        if (req.method != "POST") return methodNotAllowed(req, reply, "POST");
        if (auto known = routes.cached(target->service)) return call(req, reply, *target, *known);
        // Not cached: look the service up off the HTTP thread. The request
        // (and `target`, which views it) stays valid until the reply.
        lookups->post([this, &req, reply, t = *target] {
            std::shared_ptr<const gateway::ServiceRoutes> found;
            try {
                found = routes.fetch(t.service);
            } catch (const Error& e) {
                return reject(req, reply, errorResponse(kGatewayId, e.code(), e.what()));
            }
            call(req, reply, t, *found);
        });
    }

    void methodNotAllowed(const http::Request& req, const http::Reply& reply,
                          std::string_view allow) {
        http::Response r =
            errorResponse(kGatewayId, Code::kInvalidArgument,
                          fmt::format("{} {}: use {}", req.method, req.path(), allow));
        r.status = 405;
        r.headers.emplace_back("Allow", allow);
        reject(req, reply, std::move(r));
    }

    void preflight(const http::Request& req, const http::Reply& reply) {
        std::string_view origin = req.header("Origin");
        http::Response r = http::makeResponse(204, "text/plain", "");
        addCors(origin, r);
        if (r.headers.empty()) {
            return reject(req, reply,
                          errorResponse(kGatewayId, Code::kPermissionDenied,
                                        options.corsOrigins.empty()
                                            ? std::string("CORS is not enabled on this gateway")
                                            : fmt::format("origin '{}' is not allowed", origin)));
        }
        r.headers.emplace_back("Access-Control-Allow-Methods", "POST, GET, OPTIONS");
        std::string_view asked = req.header("Access-Control-Request-Headers");
        r.headers.emplace_back(
            "Access-Control-Allow-Headers",
            asked.empty() ? std::string("Authorization, Content-Type") : std::string(asked));
        r.headers.emplace_back("Access-Control-Max-Age", "600");
        reply(std::move(r));
    }

    void list(const http::Request& req, const http::Reply& reply) {
        std::vector<std::shared_ptr<const gateway::ServiceRoutes>> all;
        try {
            all = routes.all();
        } catch (const Error& e) {
            return reject(req, reply, errorResponse(kGatewayId, e.code(), e.what()));
        }
        std::string out = "{\"services\":[";
        for (std::size_t i = 0; i < all.size(); ++i) {
            const auto& s = *all[i];
            if (i > 0) out += ',';
            out += "{\"name\":";
            http::appendJsonString(out, s.service);
            out += ",\"nodes\":" + std::to_string(s.nodes) + ",\"endpoints\":[";
            for (std::size_t j = 0; j < s.endpoints.size(); ++j) {
                const auto& e = s.endpoints[j];
                if (j > 0) out += ',';
                out += "{\"name\":";
                http::appendJsonString(out, e.name);
                out += ",\"path\":";
                http::appendJsonString(out, "/" + s.service + "/" + e.name);
                out += ",\"stream\":";
                out += e.streaming ? "true" : "false";
                out += ",\"request\":";
                http::appendJsonString(out, e.request);
                out += ",\"response\":";
                http::appendJsonString(out, e.response);
                out += '}';
            }
            out += "]}";
        }
        out += "]}";
        http::Response r = http::makeResponse(200, "application/json", std::move(out));
        addCors(req.header("Origin"), r);
        reply(std::move(r));
    }

    void call(const http::Request& req, const http::Reply& reply, Target target,
              const gateway::ServiceRoutes& known) {
        gateway::Resolution found = gateway::resolve(known, target.method);
        if (!found.ambiguous.empty()) {
            return reject(
                req, reply,
                errorResponse(kGatewayId, Code::kInvalidArgument,
                              fmt::format("'{}' is ambiguous in service '{}' ({}): use "
                                          "the full endpoint name",
                                          target.method, target.service, found.ambiguous)));
        }
        if (found.endpoint == nullptr) {
            return reject(req, reply,
                          errorResponse(kGatewayId, Code::kNotFound,
                                        fmt::format("service '{}' has no endpoint '{}'",
                                                    target.service, target.method)));
        }
        const gateway::EndpointRoute& endpoint = *found.endpoint;
        if (endpoint.streaming) {
            return reject(req, reply,
                          errorResponse(kGatewayId, Code::kInvalidArgument,
                                        fmt::format("'{}' of service '{}' is a streaming "
                                                    "endpoint; the gateway calls unary ones",
                                                    endpoint.name, target.service)));
        }
        CallOptions call;
        call.timeout = options.timeout;
        call.contentType = kContentJson;
        std::string_view contentType = req.header("Content-Type");
        if (startsWithNoCase(contentType, kContentCapnp) ||
            startsWithNoCase(contentType, "application/x-capnp")) {
            call.contentType = kContentCapnp;
        } else if (startsWithNoCase(contentType, kContentRaw)) {
            call.contentType = kContentRaw;
        }
        for (const auto& [name, value] : req.headers) {
            if (startsWithNoCase(name, "authorization") && name.size() == 13) {
                call.metadata.emplace_back("authorization", value);
            } else if (startsWithNoCase(name, "micro-") && name.size() > 6) {
                std::string key = lower(name.substr(6));
                if (key == "timeout") {
                    std::uint64_t ms = 0;
                    if (!rpc::parseU64(value, ms) || ms == 0) {
                        return reject(req, reply,
                                      errorResponse(kGatewayId, Code::kInvalidArgument,
                                                    fmt::format("header Micro-Timeout: '{}' is "
                                                                "not a number of milliseconds",
                                                                value)));
                    }
                    call.timeout = std::min(std::chrono::milliseconds(ms), options.maxTimeout);
                } else {
                    call.metadata.emplace_back(std::move(key), value);
                }
            }
        }
        std::string_view body = req.body;
        if (body.empty() && call.contentType == kContentJson) body = "{}";
        std::string origin(req.header("Origin"));
        http::Response corsProbe;
        addCors(origin, corsProbe);
        inFlight.add(1);
        client.callAsync(
            target.service, endpoint.name, body, call,
            [reply, service = std::string(target.service), name = endpoint.name,
             cors = std::move(corsProbe.headers), requests = &requests, duration = &duration,
             inFlight = &inFlight, start = Clock::now()](Response* r, const Error* e) {
                inFlight->add(-1);
                Code code = e != nullptr ? e->code() : Code::kOk;
                try {
                    std::chrono::duration<double> took = Clock::now() - start;
                    duration->with({service, name}).observe(took.count());
                    requests->with({service, name, metrics::codeLabel(static_cast<int>(code))})
                        .add();
                } catch (...) {
                    // A lost count never fails the call.
                }
                http::Response out;
                if (e != nullptr) {
                    out = errorResponse(service, code, e->what());
                } else {
                    out = http::makeResponse(
                        200, r->contentType.empty() ? std::string(kContentJson) : r->contentType,
                        std::move(r->body));
                    for (auto& [k, v] : r->metadata) {
                        if (isToken(k) && isFieldValue(v)) {
                            out.headers.emplace_back("Micro-" + k, std::move(v));
                        }
                    }
                }
                out.headers.insert(out.headers.end(), cors.begin(), cors.end());
                reply(std::move(out));
            });
    }
};

ApiGateway::ApiGateway(Runtime& runtime, ApiOptions options)
    : impl_(std::make_unique<Impl>(runtime, std::move(options))) {}

ApiGateway::~ApiGateway() { stop(); }

void ApiGateway::start() {
    if (impl_->server) return;
    http::ServerOptions http;
    http.address = impl_->options.address;
    http.threads = impl_->options.threads > 0
                       ? impl_->options.threads
                       : driver::usableCpus();
    http.maxHeaderBytes = impl_->options.maxHeaderBytes;
    http.maxBodyBytes = impl_->options.maxBodyBytes;
    http.headerTimeout = impl_->options.headerTimeout;
    http.idleTimeout = impl_->options.idleTimeout;
    impl_->lookups = std::make_unique<driver::WorkerPool>(2);
    Impl* impl = impl_.get();
    impl_->server = std::make_unique<http::Server>(
        std::move(http), [impl](const http::Request& req, http::Reply reply) {
            try {
                impl->handle(req, reply);
            } catch (const Error& e) {
                impl->reject(req, reply, errorResponse(kGatewayId, e.code(), e.what()));
            } catch (const std::exception& e) {
                impl->reject(req, reply, errorResponse(kGatewayId, Code::kInternal, e.what()));
            }
        });
}

void ApiGateway::stop() noexcept {
    impl_->stopping.store(true);
    if (impl_->server) impl_->server->stop();
    // Runs what is queued (its replies are dropped), then joins.
    impl_->lookups.reset();
}

const std::string& ApiGateway::address() const noexcept {
    static const std::string none;
    return impl_->server ? impl_->server->address() : none;
}

}  // namespace micro
