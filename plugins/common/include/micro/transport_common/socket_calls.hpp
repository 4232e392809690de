// micro/transport_common/socket_calls.hpp — send and recvmsg for the hot
// path, made as plain system calls.
//
// Why: glibc's send and recvmsg are thread-cancellation points; in a
// process with more than one thread each call switches asynchronous
// cancellation on and off around the system call (about 5% of a request's
// user-space time on the http transport). Nothing here is ever cancelled
// (the transports' threads are joined, not cancelled), so the system calls
// are made directly.
//
// Contract: as ::send and ::recvmsg (return value and errno); Linux only.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace micro::transport_common {

inline ssize_t sendBytes(int fd, const void* data, std::size_t size, int flags) noexcept {
    return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

inline ssize_t receiveMessage(int fd, msghdr* message, int flags) noexcept {
    return ::syscall(SYS_recvmsg, fd, message, flags);
}

}  // namespace micro::transport_common
