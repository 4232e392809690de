// micro/driver/auth.hpp — adapt a C++ class to micro_auth_driver.
//
// The class T provides (each may take a trailing Done&):
//   explicit T(const Context&);
//   void generate(const micro_account&, std::string_view secret, AccountSink&);
//   void token(std::string_view id, std::string_view secret, std::int64_t ttlMs, TokenSink&);
//   void inspect(std::string_view accessToken, AccountSink&);   // UNAUTHENTICATED if invalid
#pragma once

#include <micro/driver/dispatch.hpp>

namespace micro::driver {

class AccountSink {
 public:
    explicit AccountSink(micro_account_sink sink) noexcept : sink_(sink) {}
    void emit(const micro_account& account) const noexcept { sink_.fn(sink_.ctx, &account); }

 private:
    micro_account_sink sink_;
};

class TokenSink {
 public:
    explicit TokenSink(micro_token_sink sink) noexcept : sink_(sink) {}
    void emit(std::string_view access, std::string_view refresh,
              std::int64_t expiryUnixMs) const noexcept {
        micro_token t{sizeof(micro_token), abi::str(access), abi::str(refresh), expiryUnixMs};
        sink_.fn(sink_.ctx, &t);
    }

 private:
    micro_token_sink sink_;
};

template <typename T>
struct AuthDriver {
    static constexpr micro_kind kKind = MICRO_KIND_AUTH;

    static void generate(void* self, const micro_account* account, micro_str secret,
                         micro_account_sink sink, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        AccountSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, generate, *account, abi::view(secret), out);
    }
    static void token(void* self, micro_str id, micro_str secret, std::int64_t ttlMs,
                      micro_token_sink sink, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        TokenSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, token, abi::view(id), abi::view(secret), ttlMs, out);
    }
    static void inspect(void* self, micro_str accessToken, micro_account_sink sink,
                        micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        AccountSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, inspect, abi::view(accessToken), out);
    }

    static constexpr micro_auth_driver kTable = {Lifecycle<T>::base(sizeof(micro_auth_driver)),
                                                 &generate, &token, &inspect};
};

}  // namespace micro::driver
