// DrainedRead over a real loopback TCP connection: a read that drained the
// socket must still see bytes that arrive later (the reactor waits for the
// next event instead of trying first), a read that filled its buffer leaves
// the rest to the next read, and end of stream, close and a queued read at
// shutdown complete as Asio's own reads do.
#include <micro/transport_common/drained_read.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace {

using boost::asio::ip::tcp;
using micro::transport_common::DrainedRead;
using micro::transport_common::Socket;

// A connection-shaped owner: the socket, the buffer and the read, alive
// while a read is in flight.
struct Reader : std::enable_shared_from_this<Reader> {
    explicit Reader(boost::asio::io_context& io) : socket(io), read(socket) {}

    void start(std::size_t size) {
        buffer.assign(size, '\0');
        read.start(shared_from_this(), buffer.data(), buffer.size());
    }
    void onRead(const boost::system::error_code& e, std::size_t n) noexcept {
        ec = e;
        got.append(buffer.data(), n);
        ++completions;
    }

    Socket socket;
    DrainedRead<Reader> read;
    std::string buffer;
    std::string got;
    boost::system::error_code ec;
    int completions = 0;
};

// A connected pair on 127.0.0.1: `reader` on the io_context, `peer` blocking.
struct Pair {
    boost::asio::io_context io{1};
    std::shared_ptr<Reader> reader = std::make_shared<Reader>(io);
    boost::asio::io_context peerIo;
    tcp::socket peer{peerIo};

    Pair() {
        tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
        peer.connect(acceptor.local_endpoint());
        acceptor.accept(reader->socket);
        reader->socket.non_blocking(true);
    }
    void send(const std::string& bytes) { boost::asio::write(peer, boost::asio::buffer(bytes)); }
    // Runs handlers until `done` holds or two seconds pass.
    template <typename Done>
    bool runUntil(Done done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(std::chrono::milliseconds(20));
        }
        return done();
    }
};

}  // namespace

TEST_CASE("drained read: bytes that arrive after a short read are still read") {
    Pair p;
    p.send("first");
    p.reader->start(4096);  // short read: the socket is drained
    REQUIRE(p.runUntil([&] { return p.reader->completions == 1; }));
    CHECK(p.reader->got == "first");
    CHECK_FALSE(p.reader->ec);

    // The next read is queued without trying a recv; only the event of the
    // next arrival can complete it.
    p.reader->start(4096);
    p.io.restart();
    p.io.poll();
    CHECK(p.reader->completions == 1);
    std::thread late([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        p.send("second");
    });
    REQUIRE(p.runUntil([&] { return p.reader->completions == 2; }));
    late.join();
    CHECK(p.reader->got == "firstsecond");
}

TEST_CASE("drained read: a read that fills its buffer leaves the rest to the next one") {
    Pair p;
    p.send("0123456789");
    p.reader->start(4);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 1; }));
    CHECK(p.reader->got == "0123");
    p.reader->start(4);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 2; }));
    p.reader->start(4);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 3; }));
    CHECK(p.reader->got == "0123456789");
}

TEST_CASE("drained read: the peer's end of stream is eof") {
    Pair p;
    p.send("bye");
    p.peer.shutdown(tcp::socket::shutdown_send);
    p.reader->start(4096);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 1; }));
    CHECK(p.reader->got == "bye");
    p.reader->start(4096);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 2; }));
    CHECK(p.reader->ec == boost::asio::error::eof);
}

TEST_CASE("drained read: a FIN that came with the last bytes is still seen as eof") {
    // The read waits first, so the bytes and the FIN come in on one
    // readiness event and one recv: no later event would tell of the FIN.
    Pair p;
    p.reader->start(4096);
    p.io.poll();
    CHECK(p.reader->completions == 0);
    p.send("request");
    p.peer.shutdown(tcp::socket::shutdown_send);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(p.runUntil([&] { return p.reader->completions == 1; }));
    CHECK(p.reader->got == "request");
    p.reader->start(4096);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 2; }));
    CHECK(p.reader->ec == boost::asio::error::eof);
}

TEST_CASE("drained read: closing the socket aborts a waiting read") {
    Pair p;
    p.reader->start(4096);
    p.io.poll();
    CHECK(p.reader->completions == 0);
    p.reader->socket.close();
    REQUIRE(p.runUntil([&] { return p.reader->completions == 1; }));
    CHECK(p.reader->ec == boost::asio::error::operation_aborted);
    // A read on a closed socket fails at once, without touching a descriptor.
    p.reader->start(16);
    REQUIRE(p.runUntil([&] { return p.reader->completions == 2; }));
    CHECK(p.reader->ec == boost::asio::error::bad_descriptor);
}

TEST_CASE("drained read: a read still queued when the io_context goes lets go of its owner") {
    std::weak_ptr<Reader> weak;
    {
        Pair p;
        weak = p.reader;
        p.reader->start(4096);
        p.io.poll();
        p.reader.reset();  // only the queued read holds the owner now
        CHECK_FALSE(weak.expired());
        // io_context's destructor (declared first, destroyed last) destroys
        // the queued read, which releases the owner it holds; the socket
        // itself must go first, so close it through the last reference.
        weak.lock()->socket.close();
    }
    CHECK(weak.expired());
}
