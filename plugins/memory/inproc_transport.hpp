// plugins/memory/inproc_transport.hpp — transport driver "inproc": ordered
// message pipes between listeners and dialers in the same process.
//
// Contract
//   Address scope: PROCESS-WIDE. Listener names live in one table shared by
//     every instance of this driver in the process (and only this process),
//     so two instances — e.g. two services embedded in one test executable —
//     can dial each other. Addresses are "inproc://NAME"; listen also
//     accepts a bare NAME, and "" or anything ending in ":0" (the "pick a
//     port" idiom) gets a fresh unique name. The bound address is always
//     reported as "inproc://NAME". A name in use -> ALREADY_EXISTS; dial to
//     a name nobody listens on -> UNAVAILABLE "no listener at 'inproc://x'".
//   Threads: every method may be called concurrently from any thread.
//     Each connection end has one plugin thread that delivers its events
//     (on_message in order, on_writable, then on_close exactly once, last),
//     so the callbacks of one end are never concurrent, and a handler may
//     send (e.g. a reply from inside on_message) or dial without deadlock.
//     dial runs the listener's accept handler on the dialer's thread, before
//     dial returns; nothing is delivered on the new connection until the
//     accept handler has returned.
//   Flow control: each direction queues at most `max_queued` messages
//     (config, default 1024; the receiving instance's setting applies);
//     send returns false (RESOURCE_EXHAUSTED at the ABI) when full, and
//     on_writable fires on the sender's end once the receiver takes one.
//   Close: close(conn) from either side delivers what was already sent,
//     then on_close(MICRO_OK) on both ends. A send after close, or on a
//     handle whose on_close has run -> UNAVAILABLE. Handles are ids that are
//     never reused, so a stale handle is an error, not a crash.
//   Lifetime: unlisten waits for a running accept handler (it must not be
//     called from inside that handler; if it is, it does not wait). Destroy
//     unlistens everything, closes every connection end it owns (their
//     peers see on_close too) and joins every thread it started; after it
//     returns none of its callbacks runs again.
//   Ownership: messages are copied on send; what a callback receives is
//     borrowed until it returns.
#pragma once

#include <micro/driver/transport.hpp>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace micro::memory {

class InprocTransport {
 public:
    explicit InprocTransport(const driver::Context& ctx);
    ~InprocTransport();
    InprocTransport(const InprocTransport&) = delete;
    InprocTransport& operator=(const InprocTransport&) = delete;

    void* listen(std::string_view address, micro_accept_handler handler, driver::StringSink& bound);
    void unlisten(void* listener) noexcept;
    void* dial(std::string_view address, std::int64_t timeoutMs, micro_connection_events events);
    bool send(void* connection, const micro_transport_message& message);
    void close(void* connection) noexcept;

    struct Listener;  // public so the process-wide table can name it
    struct Pipe;
    struct End;

 private:
    std::shared_ptr<End> findEnd(void* handle) const;
    /// Make `end` reachable through this instance (send, close, destroy).
    void adopt(const std::shared_ptr<End>& end);
    /// Start the thread that delivers `end`'s events.
    void launch(const std::shared_ptr<End>& end);
    void run(std::shared_ptr<End> end) noexcept;
    /// Called by an end's thread as its last act: hand its std::thread over
    /// to be joined later (a thread cannot join itself).
    void retire(End& end) noexcept;
    void joinFinished() noexcept;

    std::size_t maxQueued_ = 1024;

    mutable std::mutex mutex_;         // guards everything below
    std::condition_variable retired_;  // an end's thread finished
    std::size_t running_ = 0;          // end threads not yet retired
    std::unordered_map<std::uint64_t, std::shared_ptr<End>> ends_;
    std::unordered_map<std::uint64_t, std::shared_ptr<Listener>> listeners_;
    std::vector<std::thread> finished_;
};

}  // namespace micro::memory
