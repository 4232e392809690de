// micro/driver/sync.hpp — adapt a C++ class to micro_sync_driver.
//
// The class T provides (each may take a trailing Done& to complete later —
// the natural form for a lock that must wait without blocking the caller):
//   explicit T(const Context&);
//   std::uint64_t lock(const LockRequest&);           // fencing token
//   void renew(std::string_view id, std::uint64_t token, std::int64_t ttlMs);
//   void unlock(std::string_view id, std::uint64_t token);
//   std::uint64_t campaign(const LockRequest&);       // term token
//   void resign(std::string_view election, std::uint64_t token);
//   std::uint64_t leader(std::string_view election, StringSink&);  // NOT_FOUND if none
#pragma once

#include <micro/driver/registry.hpp>  // StringSink

namespace micro::driver {

struct LockRequest {
    std::string_view id;
    std::string_view owner;
    std::int64_t ttlMs = 0;
    std::int64_t waitMs = 0;
};

template <typename T>
struct SyncDriver {
    static constexpr micro_kind kKind = MICRO_KIND_SYNC;

    static LockRequest request(const micro_lock_request* r) noexcept {
        return LockRequest{abi::view(r->id), abi::view(r->owner), r->ttl_ms, r->wait_ms};
    }
    static void lock(void* self, const micro_lock_request* r, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        LockRequest req = request(r);
        MICRO_DETAIL_DISPATCH(done, t, lock, req);
    }
    static void renew(void* self, micro_str id, std::uint64_t token, std::int64_t ttlMs,
                      micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, renew, abi::view(id), token, ttlMs);
    }
    static void unlock(void* self, micro_str id, std::uint64_t token, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, unlock, abi::view(id), token);
    }
    static void campaign(void* self, const micro_lock_request* r, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        LockRequest req = request(r);
        MICRO_DETAIL_DISPATCH(done, t, campaign, req);
    }
    static void resign(void* self, micro_str election, std::uint64_t token,
                       micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, resign, abi::view(election), token);
    }
    static void leader(void* self, micro_str election, micro_str_sink sink,
                       micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        StringSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, leader, abi::view(election), out);
    }

    static constexpr micro_sync_driver kTable = {Lifecycle<T>::base(sizeof(micro_sync_driver)),
                                                 &lock,
                                                 &renew,
                                                 &unlock,
                                                 &campaign,
                                                 &resign,
                                                 &leader};
};

}  // namespace micro::driver
