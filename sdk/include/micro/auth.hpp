// micro/auth.hpp — accounts and tokens. Rules that decide who may call what
// live in the service runtime, not in the driver.
//
// Contract: thread-safe; blocking calls. inspect throws UNAUTHENTICATED for a
// forged, expired or malformed token; token throws UNAUTHENTICATED for a
// wrong secret.
#pragma once

#include <micro/driver_handle.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace micro {

struct Account {
    std::string id{};
    std::string type{};
    std::string issuer{};
    std::vector<std::string> scopes{};
    std::map<std::string, std::string> metadata{};
};

struct Token {
    std::string accessToken{};
    std::string refreshToken{};
    std::int64_t expiryUnixMs = 0;
};

class Auth {
 public:
    explicit Auth(DriverHandle handle);

    Account generate(const Account& account, std::string_view secret);
    /// (id, secret) for a new token, or (empty id, refresh token) to refresh.
    Token token(std::string_view id, std::string_view secret,
                std::chrono::milliseconds ttl = std::chrono::hours(1));
    Account inspect(std::string_view accessToken) const;

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_auth_driver* table_;
};

}  // namespace micro
