// admin_routes.hpp — the /health and /metrics answers, shared by the admin
// server and the gateway (which serves them on its own port).
#pragma once

#include <micro/admin.hpp>

#include <functional>
#include <optional>

#include "../http/server.hpp"

namespace micro::admin {

/// The response for GET /health or GET /metrics (a HEAD or another method on
/// them: 405); nullopt for any other path. Calls `health` for /health.
std::optional<http::Response> adminRoute(const http::Request& request,
                                         const std::function<HealthStatus()>& health);

}  // namespace micro::admin
