#include "noop_auth.hpp"

#include "common.hpp"

namespace micro::memory {

namespace {
constexpr std::string_view kIssuer = "micro";
}  // namespace

NoopAuth::NoopAuth(const driver::Context& ctx) { ctx.config.allowOnly({}); }

void NoopAuth::generate(const micro_account& account, std::string_view /*secret*/,
                        driver::AccountSink& out) {
    micro_account echoed = account;
    echoed.struct_size = sizeof(micro_account);  // we fill every field we know
    if (echoed.issuer.size == 0) echoed.issuer = abi::str(kIssuer);
    out.emit(echoed);
}

void NoopAuth::token(std::string_view id, std::string_view secret, std::int64_t ttlMs,
                     driver::TokenSink& out) {
    // The refresh token is the id, so (empty id, refresh token) names it too.
    std::string_view who = id.empty() ? secret : id;
    if (who.empty()) throw Error(Code::kUnauthenticated, "no account id and no refresh token");
    out.emit(who, who, ttlMs > 0 ? unixNowMs() + ttlMs : 0);
}

void NoopAuth::inspect(std::string_view accessToken, driver::AccountSink& out) {
    if (accessToken.empty()) throw Error(Code::kUnauthenticated, "empty access token");
    micro_account account{};
    account.struct_size = sizeof(micro_account);
    account.id = abi::str(accessToken);
    account.type = abi::str("user");
    account.issuer = abi::str(kIssuer);
    out.emit(account);
}

}  // namespace micro::memory
