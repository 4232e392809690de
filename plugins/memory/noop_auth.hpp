// plugins/memory/noop_auth.hpp — auth driver "noop": no authentication,
// every caller is who it claims to be. For development and tests only.
//
// Contract
//   Threads: stateless; every method may be called concurrently.
//   generate(account, secret): echoes the account back (issuer "micro" when
//     empty); the secret is ignored and nothing is stored.
//   token(id, secret, ttl_ms): access token = refresh token = id, expiring
//     ttl_ms from now (ttl_ms <= 0: 0, never). With an empty id the secret is
//     taken as a refresh token, i.e. the id. Both empty -> UNAUTHENTICATED.
//   inspect(token): the account {id = token, type "user", issuer "micro"};
//     an empty token -> UNAUTHENTICATED.
//   Config: none.
#pragma once

#include <micro/driver/auth.hpp>

#include <cstdint>
#include <string_view>

namespace micro::memory {

class NoopAuth {
 public:
    explicit NoopAuth(const driver::Context& ctx);

    void generate(const micro_account& account, std::string_view secret, driver::AccountSink& out);
    void token(std::string_view id, std::string_view secret, std::int64_t ttlMs,
               driver::TokenSink& out);
    void inspect(std::string_view accessToken, driver::AccountSink& out);
};

}  // namespace micro::memory
