#include <micro/sync.hpp>

#include "blocking_call.hpp"

namespace micro {

Sync::Sync(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_sync_driver>()) {}

namespace {
micro_lock_request requestOf(std::string_view id, const LockOptions& o) noexcept {
    return micro_lock_request{sizeof(micro_lock_request), abi::str(id), abi::str(o.owner),
                              o.ttl.count(), o.wait.count()};
}
}  // namespace

Lease Sync::lock(std::string_view id, const LockOptions& options) {
    micro_lock_request request = requestOf(id, options);
    detail::BlockingCall call;
    table_->lock(handle_.self(), &request, call.done());
    return Lease{std::string(id), call.wait()};
}

void Sync::renew(const Lease& lease, std::chrono::milliseconds ttl) {
    detail::BlockingCall call;
    table_->renew(handle_.self(), abi::str(lease.id), lease.token, ttl.count(), call.done());
    call.wait();
}

void Sync::unlock(const Lease& lease) {
    detail::BlockingCall call;
    table_->unlock(handle_.self(), abi::str(lease.id), lease.token, call.done());
    call.wait();
}

Lease Sync::campaign(std::string_view election, const LockOptions& options) {
    micro_lock_request request = requestOf(election, options);
    detail::BlockingCall call;
    table_->campaign(handle_.self(), &request, call.done());
    return Lease{std::string(election), call.wait()};
}

void Sync::resign(const Lease& leadership) {
    detail::BlockingCall call;
    table_->resign(handle_.self(), abi::str(leadership.id), leadership.token, call.done());
    call.wait();
}

std::optional<Leader> Sync::leader(std::string_view election) const {
    Leader leader;
    auto emit = [](void* ctx, micro_str owner) {
        static_cast<Leader*>(ctx)->owner.assign(abi::view(owner));
    };
    detail::BlockingCall call;
    table_->leader(handle_.self(), abi::str(election), micro_str_sink{&leader, emit}, call.done());
    call.waitNoThrow();
    if (call.code() == MICRO_NOT_FOUND) return std::nullopt;
    throwIfError(call.code(), call.message());
    leader.token = call.value();
    return leader;
}

}  // namespace micro
