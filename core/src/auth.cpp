#include <micro/auth.hpp>

#include <vector>

#include "blocking_call.hpp"

namespace micro {

namespace {

Account accountOf(const micro_account& a) {
    Account out{std::string(abi::view(a.id)),
                std::string(abi::view(a.type)),
                std::string(abi::view(a.issuer)),
                {},
                {}};
    for (std::size_t i = 0; i < a.scope_count; ++i) out.scopes.emplace_back(abi::view(a.scopes[i]));
    for (const auto& kv : abi::view(a.metadata, a.metadata_count)) {
        out.metadata.emplace(abi::view(kv.key), abi::view(kv.value));
    }
    return out;
}

void emitAccount(void* ctx, const micro_account* a) { *static_cast<Account*>(ctx) = accountOf(*a); }

}  // namespace

Auth::Auth(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_auth_driver>()) {}

Account Auth::generate(const Account& account, std::string_view secret) {
    std::vector<micro_str> scopes;
    for (const auto& s : account.scopes) scopes.push_back(abi::str(s));
    std::vector<micro_kv> metadata;
    for (const auto& [k, v] : account.metadata) metadata.push_back({abi::str(k), abi::str(v)});
    micro_account a{sizeof(micro_account),    abi::str(account.id), abi::str(account.type),
                    abi::str(account.issuer), scopes.data(),        scopes.size(),
                    metadata.data(),          metadata.size()};
    Account out;
    detail::BlockingCall call;
    table_->generate(handle_.self(), &a, abi::str(secret), micro_account_sink{&out, emitAccount},
                     call.done());
    call.wait();
    return out;
}

Token Auth::token(std::string_view id, std::string_view secret, std::chrono::milliseconds ttl) {
    Token out;
    auto emit = [](void* ctx, const micro_token* t) {
        auto* o = static_cast<Token*>(ctx);
        o->accessToken.assign(abi::view(t->access_token));
        o->refreshToken.assign(abi::view(t->refresh_token));
        o->expiryUnixMs = t->expiry_unix_ms;
    };
    detail::BlockingCall call;
    table_->token(handle_.self(), abi::str(id), abi::str(secret), ttl.count(),
                  micro_token_sink{&out, emit}, call.done());
    call.wait();
    return out;
}

Account Auth::inspect(std::string_view accessToken) const {
    Account out;
    detail::BlockingCall call;
    table_->inspect(handle_.self(), abi::str(accessToken), micro_account_sink{&out, emitAccount},
                    call.done());
    call.wait();
    return out;
}

}  // namespace micro
