// The tcp transport against hostile and heavy peers: a real listener loaded
// through micro::Runtime, an echo handler, and raw POSIX sockets that send
// garbage, lie about lengths, stall mid-frame, or stop reading. Every bad
// connection must be closed (with a reason naming what was wrong) while
// well-behaved connections alongside keep working.
#include <doctest/doctest.h>
#include <micro/runtime.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "channel.hpp"  // core/src/rpc
#include "process.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kWait = 5s;

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

// ---- the wire format, written out by hand (see plugins/tcp/frame.hpp) ----

void put16(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

/// One frame: u32 length, u16 header count, headers (u16 key length, u32
/// value length, key, value), body.
std::string frameBytes(std::string_view body,
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string rest;
    put16(rest, static_cast<std::uint32_t>(headers.size()));
    for (const auto& [k, v] : headers) {
        put16(rest, static_cast<std::uint32_t>(k.size()));
        put32(rest, static_cast<std::uint32_t>(v.size()));
        rest += k;
        rest += v;
    }
    rest += body;
    std::string out;
    put32(out, static_cast<std::uint32_t>(rest.size()));
    return out + rest;
}

// ---- raw POSIX sockets ----

/// A connected TCP socket to 127.0.0.1:port; closed on destruction.
class RawSocket {
 public:
    explicit RawSocket(int port, int receiveBuffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        if (receiveBuffer > 0) {
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(static_cast<std::uint16_t>(port));
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    int fd() const { return fd_; }

    /// Write all of `bytes`; false once the peer has gone.
    bool write(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Wait until the server closes the socket (EOF or reset), discarding
    /// anything it sends first; false if it is still open after `timeout`.
    bool waitClosed(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        char buf[65536];
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            const int r = ::poll(&p, 1, static_cast<int>(left.count()));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) continue;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return true;
            if (n < 0 && errno != EINTR && errno != EAGAIN) return true;  // ECONNRESET
        }
    }

    /// Read exactly `n` bytes within `timeout`; false on EOF, error or timeout.
    bool readExactly(std::string& out, std::size_t n, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        out.resize(n);
        std::size_t have = 0;
        while (have < n) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            const ssize_t r = ::recv(fd_, out.data() + have, n - have, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            have += static_cast<std::size_t>(r);
        }
        return true;
    }

    /// Read one whole frame (prefix included); "" on failure.
    std::string readFrame(std::chrono::milliseconds timeout = kWait) {
        std::string prefix;
        if (!readExactly(prefix, 4, timeout)) return {};
        std::uint32_t length = 0;
        for (int i = 3; i >= 0; --i)
            length = length << 8 | static_cast<std::uint8_t>(prefix[static_cast<std::size_t>(i)]);
        std::string rest;
        if (!readExactly(rest, length, timeout)) return {};
        return prefix + rest;
    }

 private:
    int fd_ = -1;
};

/// The process's resident set size in bytes.
std::size_t residentBytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// ---- a micro echo server and micro clients ----

/// What the server side saw: accepted connections, how each ended.
struct ServerLog {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::shared_ptr<micro::Connection>> connections;
    struct Close {
        Code code;
        std::string reason;
    };
    std::vector<Close> closes;
    int writable = 0;
    std::vector<std::string> errors;

    template <typename Pred>
    bool waitFor(Pred pred, std::chrono::milliseconds timeout = kWait) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, pred);
    }
    /// Wait for a close whose code is `code` and whose reason holds `part`.
    bool waitForClose(Code code, std::string_view part) {
        return waitFor([&] {
            for (const Close& c : closes)
                if (c.code == code && contains(c.reason, part)) return true;
            return false;
        });
    }
    std::string describeCloses() {
        std::lock_guard lock(mutex);
        std::string out;
        for (const Close& c : closes) out += micro::codeName(c.code) + " '" + c.reason + "'; ";
        return out;
    }
};

/// A runtime whose [transport] is micro-tcp with the extra config `extra`,
/// listening on 127.0.0.1:0 and echoing every message (headers and body).
class EchoServer {
 public:
    explicit EchoServer(const std::string& extra = "", bool echo = true)
        : log_(std::make_shared<ServerLog>()),
          runtime_(micro::Runtime::load(writeManifest(dir_, extra))) {
        // A plain pointer: the log outlives the runtime (declared before it),
        // and handlers holding a shared_ptr would make a cycle with the
        // connections the log keeps.
        ServerLog* log = log_.get();
        listener_ = runtime_.transport().listen(
            "127.0.0.1:0", [log, echo](std::shared_ptr<micro::Connection> c) {
                std::weak_ptr<micro::Connection> weak = c;
                {
                    std::lock_guard lock(log->mutex);
                    log->connections.push_back(c);
                }
                log->changed.notify_all();
                micro::ConnectionHandlers h;
                if (echo) {
                    h.onMessage = [log, weak](const micro::TransportMessageView& m) {
                        auto self = weak.lock();
                        if (!self) return;
                        std::vector<micro::Header> headers;
                        for (const micro_kv& kv : m.headers)
                            headers.push_back(
                                {{kv.key.data, kv.key.size}, {kv.value.data, kv.value.size}});
                        try {
                            if (!self->send(headers, m.body)) {
                                std::lock_guard lock(log->mutex);
                                log->errors.push_back("echo refused: buffer full");
                            }
                        } catch (const micro::Error& e) {
                            std::lock_guard lock(log->mutex);
                            log->errors.push_back("echo failed: " + e.describe());
                        }
                    };
                }
                h.onWritable = [log] {
                    {
                        std::lock_guard lock(log->mutex);
                        ++log->writable;
                    }
                    log->changed.notify_all();
                };
                h.onClose = [log](Code code, std::string_view reason) {
                    {
                        std::lock_guard lock(log->mutex);
                        log->closes.push_back({code, std::string(reason)});
                    }
                    log->changed.notify_all();
                };
                return h;
            });
        const std::string& a = listener_.address();
        port_ = std::stoi(a.substr(a.rfind(':') + 1));
    }
    ~EchoServer() { listener_.stop(); }

    micro::Runtime& runtime() { return runtime_; }
    micro::Transport& transport() { return runtime_.transport(); }
    const std::string& address() const { return listener_.address(); }
    int port() const { return port_; }
    ServerLog& log() { return *log_; }

 private:
    static std::string writeManifest(const TempDir& dir, const std::string& extra) {
        return dir.write("tcp.toml", "[transport]\nplugin = \"" MICRO_TCP_PLUGIN
                                     "\"\ndriver = \"tcp\"\n" +
                                         extra);
    }

    TempDir dir_;
    std::shared_ptr<ServerLog> log_;  // outlives the runtime: its handlers use it
    micro::Runtime runtime_;
    micro::Listener listener_;
    int port_ = 0;
};

/// A well-behaved micro client connection that records what comes back.
class Client {
 public:
    Client(micro::Transport& transport, const std::string& address)
        : state_(std::make_shared<State>()) {
        auto s = state_;
        micro::ConnectionHandlers h;
        h.onMessage = [s](const micro::TransportMessageView& m) {
            {
                std::lock_guard lock(s->mutex);
                s->bodies.emplace_back(m.body);
            }
            s->changed.notify_all();
        };
        h.onWritable = [s] {
            {
                std::lock_guard lock(s->mutex);
                ++s->writable;
            }
            s->changed.notify_all();
        };
        h.onClose = [s](Code code, std::string_view reason) {
            {
                std::lock_guard lock(s->mutex);
                s->closed = true;
                s->closeCode = code;
                s->closeReason = reason;
            }
            s->changed.notify_all();
        };
        connection_ = transport.dial(address, kWait, h);
    }
    ~Client() {
        connection_->close();
        std::unique_lock lock(state_->mutex);
        state_->changed.wait_for(lock, kWait, [&] { return state_->closed; });
    }

    micro::Connection& connection() { return *connection_; }

    /// Send (waiting out a full buffer) without waiting for the echo.
    void send(std::string_view body) {
        for (;;) {
            int before = 0;
            {
                std::lock_guard lock(state_->mutex);
                before = state_->writable;
            }
            if (connection_->send({}, body)) return;
            std::unique_lock lock(state_->mutex);
            REQUIRE(
                state_->changed.wait_for(lock, kWait, [&] { return state_->writable > before; }));
        }
    }
    /// Wait until `n` messages have come back; returns them.
    std::vector<std::string> waitForMessages(std::size_t n) {
        std::unique_lock lock(state_->mutex);
        state_->changed.wait_for(lock, 4 * kWait, [&] { return state_->bodies.size() >= n; });
        return state_->bodies;
    }
    /// Wait for onClose; "" if it did not come, else its code name and reason.
    std::string waitClosed() {
        std::unique_lock lock(state_->mutex);
        if (!state_->changed.wait_for(lock, kWait, [&] { return state_->closed; })) return "";
        return micro::codeName(state_->closeCode) + " " + state_->closeReason;
    }
    /// One echo: send `body`, expect it back next.
    bool roundTrip(const std::string& body) {
        std::size_t before = 0;
        {
            std::lock_guard lock(state_->mutex);
            before = state_->bodies.size();
        }
        send(body);
        auto got = waitForMessages(before + 1);
        return got.size() == before + 1 && got.back() == body;
    }

 private:
    struct State {
        std::mutex mutex;
        std::condition_variable changed;
        std::vector<std::string> bodies;
        int writable = 0;
        bool closed = false;
        Code closeCode = Code::kOk;
        std::string closeReason;
    };
    std::shared_ptr<State> state_;
    std::shared_ptr<micro::Connection> connection_;
};

}  // namespace

TEST_CASE("garbage bytes close that connection only, a good client keeps its echoes") {
    EchoServer server;
    Client good(server.transport(), server.address());
    CHECK(good.roundTrip("before"));

    SUBCASE("text that is not a frame") {
        RawSocket bad(server.port());
        CHECK(bad.write("GET / HTTP/1.1\r\nHost: example\r\n\r\n"));
        CHECK(bad.waitClosed(kWait));
        INFO("server closes: ", server.log().describeCloses());
        CHECK(server.log().waitForClose(Code::kInvalidArgument, "max_frame_bytes"));
    }
    SUBCASE("a plausible length with an impossible header count") {
        RawSocket bad(server.port());
        std::string bytes;
        put32(bytes, 10);
        put16(bytes, 0xFFFF);
        bytes += std::string(8, '\x7f');
        CHECK(bad.write(bytes));
        CHECK(bad.waitClosed(kWait));
        INFO("server closes: ", server.log().describeCloses());
        CHECK(server.log().waitForClose(Code::kInvalidArgument, "malformed frame"));
    }
    SUBCASE("a header whose value runs past the end of the frame") {
        RawSocket bad(server.port());
        std::string rest;
        put16(rest, 1);
        put16(rest, 1);
        put32(rest, 1000);
        rest += "kv";
        std::string bytes;
        put32(bytes, static_cast<std::uint32_t>(rest.size()));
        CHECK(bad.write(bytes + rest));
        CHECK(bad.waitClosed(kWait));
        INFO("server closes: ", server.log().describeCloses());
        CHECK(server.log().waitForClose(Code::kInvalidArgument, "runs past the end"));
    }
    SUBCASE("a zero length") {
        RawSocket bad(server.port());
        CHECK(bad.write(std::string(8, '\0')));
        CHECK(bad.waitClosed(kWait));
        CHECK(server.log().waitForClose(Code::kInvalidArgument, "malformed frame"));
    }

    CHECK(good.roundTrip("after"));
    CHECK(good.roundTrip(std::string(100000, 'z')));
    std::lock_guard lock(server.log().mutex);
    CHECK(server.log().errors.empty());
}

TEST_CASE("a frame claiming 4 GiB is refused from its prefix, without allocating") {
    EchoServer server;
    Client good(server.transport(), server.address());
    CHECK(good.roundTrip("warm up"));
    const std::size_t before = residentBytes();
    {
        RawSocket bad(server.port());
        std::string bytes = "\xFF\xFF\xFF\xFF";
        bytes += std::string(60, 'x');
        CHECK(bad.write(bytes));
        CHECK(bad.waitClosed(kWait));
    }
    INFO("server closes: ", server.log().describeCloses());
    CHECK(server.log().waitForClose(Code::kInvalidArgument, "4294967295"));
    const std::size_t after = residentBytes();
    INFO("RSS before ", before, " after ", after);
    CHECK(after < before + (64u << 20));
    CHECK(good.roundTrip("still here"));
}

TEST_CASE("a truncated frame then silence is closed by frame_timeout_ms") {
    EchoServer server("frame_timeout_ms = 300\n");
    Client good(server.transport(), server.address());
    RawSocket bad(server.port());
    const std::string whole = frameBytes(std::string(100, 'b'));
    const auto start = Clock::now();
    CHECK(bad.write(whole.substr(0, 20)));
    CHECK(bad.waitClosed(3s));
    const auto took = Clock::now() - start;
    CHECK(took >= 250ms);
    CHECK(took < 2s);
    INFO("server closes: ", server.log().describeCloses());
    CHECK(server.log().waitForClose(Code::kDeadlineExceeded, "incomplete frame"));
    CHECK(server.log().waitForClose(Code::kDeadlineExceeded, "20 of 106 bytes"));
    CHECK(good.roundTrip("unaffected"));
}

TEST_CASE("a slow loris (one byte every 100 ms) is closed by the frame timeout") {
    EchoServer server("frame_timeout_ms = 300\n");
    RawSocket loris(server.port());
    const std::string whole = frameBytes(std::string(1000, 'l'));
    const auto start = Clock::now();
    bool closed = false;
    for (std::size_t i = 0; i < whole.size() && Clock::now() - start < 3s; ++i) {
        if (!loris.write(whole.substr(i, 1))) {
            closed = true;
            break;
        }
        pollfd p{loris.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
            char c;
            const ssize_t n = ::recv(loris.fd(), &c, 1, 0);
            if (n <= 0) {
                closed = true;
                break;
            }
        }
    }
    CHECK(closed);
    CHECK(Clock::now() - start < 2s);
    INFO("server closes: ", server.log().describeCloses());
    CHECK(server.log().waitForClose(Code::kDeadlineExceeded, "incomplete frame"));
}

TEST_CASE("an idle connection between frames is never timed out") {
    EchoServer server("frame_timeout_ms = 300\n");
    RawSocket idle(server.port());
    const std::string frame = frameBytes("one", {{"k", "v"}});
    CHECK(idle.write(frame));
    CHECK(idle.readFrame() == frame);
    std::this_thread::sleep_for(800ms);
    const std::string second = frameBytes("two");
    CHECK(idle.write(second));
    CHECK(idle.readFrame() == second);
    std::lock_guard lock(server.log().mutex);
    CHECK(server.log().closes.empty());
}

TEST_CASE("a frame of exactly max_frame_bytes passes, one byte more is refused") {
    EchoServer server("max_frame_bytes = 65536\n");
    {
        RawSocket peer(server.port());
        const std::string atMax = frameBytes(std::string(65536 - 2, 'm'));  // length 65536
        REQUIRE(atMax.size() == 4 + 65536);
        CHECK(peer.write(atMax));
        CHECK(peer.readFrame() == atMax);

        const std::string over = frameBytes(std::string(65536 - 1, 'o'));  // length 65537
        CHECK(peer.write(over));
        CHECK(peer.waitClosed(kWait));
        INFO("server closes: ", server.log().describeCloses());
        CHECK(server.log().waitForClose(Code::kInvalidArgument, "65537"));
    }
    // The sending side enforces the same limit, and the connection lives on.
    Client client(server.transport(), server.address());
    try {
        client.connection().send({}, std::string(65536 - 1, 'o'));
        FAIL("an oversized message was sent");
    } catch (const micro::Error& e) {
        CHECK(e.code() == Code::kInvalidArgument);
        CHECK(contains(e.what(), "max_frame_bytes"));
    }
    CHECK(client.roundTrip(std::string(65536 - 2, 'k')));
}

TEST_CASE("16 concurrent connections x 200 messages each echo in order") {
    EchoServer server;
    constexpr int kConnections = 16;
    constexpr int kMessages = 200;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int c = 0; c < kConnections; ++c) {
        threads.emplace_back([&, c] {
            Client client(server.transport(), server.address());
            std::vector<std::string> expected;
            for (int i = 0; i < kMessages; ++i) {
                expected.push_back(std::to_string(c) + ":" + std::to_string(i) + ":" +
                                   std::string(static_cast<std::size_t>(i % 7) * 100, 'p'));
                client.send(expected.back());
            }
            if (client.waitForMessages(kMessages) == expected) ++good;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(good == kConnections);
    std::lock_guard lock(server.log().mutex);
    CHECK(server.log().errors.empty());
}

TEST_CASE("a peer that never reads: send returns false, then onWritable once it reads") {
    EchoServer server("max_queued_bytes = 1048576\n", /*echo=*/false);
    RawSocket sink(server.port(), /*receiveBuffer=*/64 * 1024);
    REQUIRE(server.log().waitFor([&] { return !server.log().connections.empty(); }));
    std::shared_ptr<micro::Connection> c;
    {
        std::lock_guard lock(server.log().mutex);
        c = server.log().connections.front();
    }
    const std::string chunk(64 * 1024, 'q');
    std::size_t accepted = 0;
    bool refused = false;
    while (accepted < (256u << 20)) {
        if (!c->send({}, chunk)) {
            refused = true;
            break;
        }
        accepted += chunk.size();
        if (accepted % (4u << 20) == 0) std::this_thread::sleep_for(10ms);  // let it write
    }
    INFO("accepted ", accepted, " bytes before refusing");
    CHECK(refused);
    // The queue (1 MiB) plus what the kernel buffers on both sides.
    CHECK(accepted < (48u << 20));
    {
        std::lock_guard lock(server.log().mutex);
        CHECK(server.log().writable == 0);
    }

    std::atomic<bool> stop{false};
    std::thread reader([&] {
        char buf[65536];
        while (!stop) {
            pollfd p{sink.fd(), POLLIN, 0};
            if (::poll(&p, 1, 50) > 0 && ::recv(sink.fd(), buf, sizeof buf, 0) <= 0) break;
        }
    });
    CHECK(server.log().waitFor([&] { return server.log().writable >= 1; }));
    CHECK(c->send({}, chunk));
    stop = true;
    reader.join();
}

TEST_CASE("an rpc channel to a peer that never reads gives up after its wait or at the deadline") {
    EchoServer server("max_queued_bytes = 1048576\n", /*echo=*/false);
    RawSocket sink(server.port(), /*receiveBuffer=*/64 * 1024);
    REQUIRE(server.log().waitFor([&] { return !server.log().connections.empty(); }));
    micro::rpc::Channel channel;
    {
        std::lock_guard lock(server.log().mutex);
        channel.attach(server.log().connections.front());
    }
    const std::string chunk(64 * 1024, 'q');
    // Send until a send fails; its code, and how long that send took.
    auto fill = [&](const std::function<void()>& send) -> std::pair<Code, Clock::duration> {
        for (int i = 0; i < 4096; ++i) {  // 256 MiB: far more than the queue and kernel hold
            const auto start = Clock::now();
            try {
                send();
            } catch (const micro::Error& e) {
                return {e.code(), Clock::now() - start};
            }
        }
        return {Code::kOk, {}};
    };
    // No deadline: the wait alone bounds the send, counted from when it
    // found the peer full.
    auto [code, took] = fill([&] { channel.send({}, chunk, Clock::time_point::max(), 300ms); });
    CHECK(code == Code::kDeadlineExceeded);
    CHECK(took >= 300ms);
    CHECK(took < kWait);
    // A deadline sooner than the wait bounds it instead.
    std::tie(code, took) = fill([&] { channel.send({}, chunk, Clock::now() + 200ms, 60s); });
    CHECK(code == Code::kDeadlineExceeded);
    CHECK(took >= 200ms);
    CHECK(took < kWait);
}

TEST_CASE("a send marked more-follows from another thread is written by the io thread") {
    // One io thread, held inside onMessage: a plain send from this thread
    // still goes out (written here, on the calling thread), one marked
    // kMoreFollows waits for the io thread, and goes out once it is free.
    TempDir dir;
    micro::Runtime runtime =
        micro::Runtime::load(dir.write("tcp.toml", "[transport]\nplugin = \"" MICRO_TCP_PLUGIN
                                                   "\"\ndriver = \"tcp\"\nio_threads = 1\n"));
    std::mutex mutex;
    std::condition_variable changed;
    std::shared_ptr<micro::Connection> accepted;
    bool held = false;
    bool release = false;
    micro::Listener listener =
        runtime.transport().listen("127.0.0.1:0", [&](std::shared_ptr<micro::Connection> c) {
            {
                std::lock_guard lock(mutex);
                accepted = std::move(c);
            }
            micro::ConnectionHandlers h;
            h.onMessage = [&](const micro::TransportMessageView&) {
                std::unique_lock lock(mutex);
                held = true;
                changed.notify_all();
                changed.wait(lock, [&] { return release; });
            };
            h.onClose = [](Code, std::string_view) {};
            return h;
        });
    const std::string& address = listener.address();
    RawSocket peer(std::stoi(address.substr(address.rfind(':') + 1)));
    REQUIRE(peer.write(frameBytes("hold")));
    {
        std::unique_lock lock(mutex);
        REQUIRE(changed.wait_for(lock, kWait, [&] { return held; }));
    }
    const auto endsWith = [](const std::string& frame, std::string_view body) {
        return frame.size() >= body.size() &&
               std::string_view(frame).substr(frame.size() - body.size()) == body;
    };
    REQUIRE(accepted->send({}, "written-here"));
    CHECK(endsWith(peer.readFrame(), "written-here"));
    REQUIRE(accepted->send({}, "left-to-io", micro::SendTiming::kMoreFollows));
    CHECK(peer.readFrame(300ms).empty());  // the io thread is held
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    changed.notify_all();
    CHECK(endsWith(peer.readFrame(), "left-to-io"));
    listener.stop();
    accepted->close();
}

TEST_CASE("close flushes what was queued first, then the peer sees an orderly close") {
    EchoServer server("", /*echo=*/false);
    Client client(server.transport(), server.address());
    REQUIRE(server.log().waitFor([&] { return !server.log().connections.empty(); }));
    std::shared_ptr<micro::Connection> c;
    {
        std::lock_guard lock(server.log().mutex);
        c = server.log().connections.front();
    }
    std::vector<std::string> expected;
    for (int i = 0; i < 300; ++i) {
        expected.push_back(std::to_string(i) + std::string(i % 3 == 0 ? 20000 : 10, 'f'));
        REQUIRE(c->send({}, expected.back()));
    }
    c->close();
    CHECK_THROWS_AS(c->send({}, "late"), micro::Error);
    CHECK(client.waitForMessages(expected.size()) == expected);
    CHECK(server.log().waitForClose(Code::kOk, "closed"));
    CHECK(client.waitClosed() == "OK peer closed");
}

TEST_CASE("dial and listen errors name the address") {
    EchoServer server;
    auto outcome = [](auto&& f) -> std::pair<Code, std::string> {
        try {
            f();
            return {Code::kOk, ""};
        } catch (const micro::Error& e) {
            return {e.code(), e.what()};
        }
    };
    micro::ConnectionHandlers none;
    // Refused: a port that was just free.
    int freePort = 0;
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        freePort = ntohs(a.sin_port);
        ::close(fd);
    }
    const std::string refused = "127.0.0.1:" + std::to_string(freePort);
    auto [code, message] = outcome([&] { server.transport().dial(refused, 2s, none); });
    CHECK(code == Code::kUnavailable);
    CHECK(contains(message, refused));

    std::tie(code, message) = outcome([&] { server.transport().dial("not an address", 2s, none); });
    CHECK(code == Code::kInvalidArgument);
    CHECK(contains(message, "not an address"));

    std::tie(code, message) = outcome([&] { server.transport().dial("[::1:80", 2s, none); });
    CHECK(code == Code::kInvalidArgument);

    // A listener on a port in use.
    std::tie(code, message) =
        outcome([&] { server.transport().listen(server.address(), nullptr); });
    CHECK(code == Code::kAlreadyExists);
    CHECK(contains(message, server.address()));

    // A connect that cannot complete is bounded by the dial timeout: a
    // listener that never accepts, whose backlog is already full, lets the
    // handshake hang.
    const int full = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(full, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
    REQUIRE(::listen(full, 0) == 0);
    socklen_t atLen = sizeof at;
    ::getsockname(full, reinterpret_cast<sockaddr*>(&at), &atLen);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(f, reinterpret_cast<sockaddr*>(&at), sizeof at);
        fillers.push_back(f);
    }
    std::this_thread::sleep_for(100ms);
    const std::string hanging = "127.0.0.1:" + std::to_string(ntohs(at.sin_port));
    const auto start = Clock::now();
    std::tie(code, message) = outcome([&] { server.transport().dial(hanging, 300ms, none); });
    const auto took = Clock::now() - start;
    CHECK(code == Code::kUnavailable);
    CHECK(contains(message, hanging));
    CHECK(contains(message, "timed out"));
    CHECK(took >= 250ms);
    CHECK(took < 2s);
    for (int f : fillers) ::close(f);
    ::close(full);
}

TEST_CASE("unknown and out-of-range config keys are refused by name") {
    for (const auto& [extra, needle] : std::vector<std::pair<std::string, std::string>>{
             {"io_thread = 2\n", "io_thread"},
             {"io_threads = 0\n", "io_threads"},
             {"max_frame_bytes = -1\n", "max_frame_bytes"},
             {"keepalive = \"yes\"\n", "keepalive"}}) {
        CAPTURE(extra);
        try {
            EchoServer server(extra);
            FAIL("loaded");
        } catch (const micro::Error& e) {
            CHECK(e.code() == Code::kInvalidArgument);
            CHECK(contains(e.what(), needle));
        }
    }
}
