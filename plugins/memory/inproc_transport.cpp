#include "inproc_transport.hpp"

#include <atomic>
#include <deque>
#include <map>

#include "common.hpp"

namespace micro::memory {

namespace {

constexpr std::string_view kScheme = "inproc://";

// Handles are ids, not pointers: ids are never reused, so a stale handle
// finds nothing instead of someone else's connection.
std::atomic<std::uint64_t> gNextId{1};

std::uint64_t nextId() noexcept { return gNextId.fetch_add(1, std::memory_order_relaxed); }
void* toHandle(std::uint64_t id) noexcept {
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}
std::uint64_t fromHandle(void* handle) noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(handle));
}

std::string_view stripScheme(std::string_view address) {
    if (address.starts_with(kScheme)) return address.substr(kScheme.size());
    if (address.find("://") != std::string_view::npos) {
        throw Error(Code::kInvalidArgument, "the inproc transport cannot use address '" +
                                                printable(address) + "': expected inproc://NAME");
    }
    return address;
}

/// A message copied at send; never moved once built (`kv` points into it).
struct OwnedMessage {
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<micro_kv> kv;
    std::string body;

    explicit OwnedMessage(const micro_transport_message& m) : body(abi::view(m.body)) {
        auto in = abi::view(m.headers, m.header_count);
        headers.reserve(in.size());
        for (const auto& h : in) headers.emplace_back(abi::view(h.key), abi::view(h.value));
        kv.reserve(headers.size());
        for (const auto& [k, v] : headers) kv.push_back(micro_kv{abi::str(k), abi::str(v)});
    }
    OwnedMessage(const OwnedMessage&) = delete;
    OwnedMessage& operator=(const OwnedMessage&) = delete;

    micro_transport_message view() const noexcept {
        return micro_transport_message{sizeof(micro_transport_message), kv.data(), kv.size(),
                                       abi::bytes(body), 0};
    }
};

struct Item {
    enum class Kind { kMessage, kWritable, kClose } kind = Kind::kMessage;
    std::unique_ptr<OwnedMessage> message;
    std::string reason;  // kClose
};

}  // namespace

struct InprocTransport::Listener {
    std::uint64_t id = 0;
    std::string name;  // without the scheme
    InprocTransport* owner = nullptr;
    micro_accept_handler handler{};

    std::mutex mutex;  // guards open, accepting
    std::condition_variable idle;
    bool open = true;
    int accepting = 0;  // accept handlers running now
};

/// Both directions of one connection. Side 0 dialed, side 1 accepted.
struct InprocTransport::Pipe {
    struct Inbox {  // what one side will receive
        std::deque<Item> items;
        std::size_t messages = 0;  // kMessage items in `items`
        std::size_t capacity = 0;
        bool senderRefused = false;  // the other side got "full": owe it on_writable
        std::condition_variable ready;
    };
    std::mutex mutex;  // guards everything below
    bool closed = false;
    Inbox inbox[2];

    /// Queue on_close for both sides, after what is already queued. Returns
    /// false if the pipe was already closed.
    bool close() {
        std::lock_guard lock(mutex);
        if (closed) return false;
        closed = true;
        for (auto& in : inbox) {
            in.items.push_back(Item{Item::Kind::kClose, nullptr, "connection closed"});
            in.ready.notify_one();
        }
        return true;
    }
};

struct InprocTransport::End {
    std::uint64_t id = 0;
    int side = 0;
    micro_connection_events events{};
    std::shared_ptr<Pipe> pipe;
    std::thread thread;  // set under the owner's mutex; moved out by retire
};

namespace {

/// The process-wide table of listener names (see the header: address scope).
struct Hub {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<InprocTransport::Listener>, std::less<>> listeners;
};

Hub& hub() {
    static Hub instance;  // lazily built: the plugin runs no code at load
    return instance;
}

// The listener whose accept handler this thread is running, so unlisten from
// inside it can avoid waiting on itself.
thread_local const InprocTransport::Listener* tAccepting = nullptr;

}  // namespace

InprocTransport::InprocTransport(const driver::Context& ctx) {
    ctx.config.allowOnly({"max_queued"});
    std::int64_t maxQueued = ctx.config.getInt("max_queued", 1024);
    if (maxQueued < 1) {
        throw Error(Code::kInvalidArgument,
                    "key 'max_queued': must be at least 1, got " + std::to_string(maxQueued));
    }
    maxQueued_ = static_cast<std::size_t>(maxQueued);
}

InprocTransport::~InprocTransport() {
    std::vector<std::uint64_t> listeners;
    std::vector<std::shared_ptr<End>> ends;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, l] : listeners_) listeners.push_back(id);
        for (const auto& [id, e] : ends_) ends.push_back(e);
    }
    for (auto id : listeners) unlisten(toHandle(id));
    for (const auto& end : ends) end->pipe->close();
    ends.clear();
    {
        // Every end's thread delivers on_close and retires itself.
        std::unique_lock lock(mutex_);
        retired_.wait(lock, [&] { return running_ == 0; });
    }
    joinFinished();
}

void InprocTransport::joinFinished() noexcept {
    std::vector<std::thread> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(finished_);
    }
    // These threads have retired: nothing is left for them but to return.
    for (auto& t : done) t.join();
}

void* InprocTransport::listen(std::string_view address, micro_accept_handler handler,
                              driver::StringSink& bound) {
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no accept handler");
    joinFinished();
    std::string_view name = stripScheme(address);
    auto listener = std::make_shared<Listener>();
    listener->id = nextId();
    listener->owner = this;
    listener->handler = handler;
    if (name.empty() || name.ends_with(":0")) {
        listener->name = "auto-" + std::to_string(listener->id);
    } else {
        listener->name = name;
    }
    {
        std::lock_guard lock(hub().mutex);
        if (!hub().listeners.emplace(listener->name, listener).second) {
            throw Error(Code::kAlreadyExists,
                        "address 'inproc://" + printable(listener->name) + "' is already in use");
        }
    }
    {
        std::lock_guard lock(mutex_);
        listeners_.emplace(listener->id, listener);
    }
    bound.emit(std::string(kScheme) + listener->name);
    return toHandle(listener->id);
}

void InprocTransport::unlisten(void* handle) noexcept {
    std::shared_ptr<Listener> listener;
    {
        std::lock_guard lock(mutex_);
        auto it = listeners_.find(fromHandle(handle));
        if (it == listeners_.end()) return;
        listener = std::move(it->second);
        listeners_.erase(it);
    }
    {
        std::lock_guard lock(hub().mutex);
        auto it = hub().listeners.find(listener->name);
        if (it != hub().listeners.end() && it->second == listener) hub().listeners.erase(it);
    }
    std::unique_lock lock(listener->mutex);
    listener->open = false;
    if (tAccepting != listener.get()) {
        listener->idle.wait(lock, [&] { return listener->accepting == 0; });
    }
}

std::shared_ptr<InprocTransport::End> InprocTransport::findEnd(void* handle) const {
    std::lock_guard lock(mutex_);
    auto it = ends_.find(fromHandle(handle));
    return it == ends_.end() ? nullptr : it->second;
}

void InprocTransport::adopt(const std::shared_ptr<End>& end) {
    std::lock_guard lock(mutex_);
    ends_.emplace(end->id, end);
}

void InprocTransport::launch(const std::shared_ptr<End>& end) {
    // Under the mutex so the thread cannot retire before `thread` is set.
    std::lock_guard lock(mutex_);
    end->thread = std::thread([this, end] { run(end); });
    ++running_;
}

void* InprocTransport::dial(std::string_view address, std::int64_t /*timeoutMs*/,
                            micro_connection_events events) {
    // Connecting in-process is immediate: there is nothing to time out.
    joinFinished();
    std::string_view name = stripScheme(address);
    std::shared_ptr<Listener> listener;
    {
        std::lock_guard lock(hub().mutex);
        auto it = hub().listeners.find(name);
        if (it != hub().listeners.end()) listener = it->second;
    }
    auto noListener = [&] {
        return Error(Code::kUnavailable, "no listener at 'inproc://" + printable(name) + "'");
    };
    if (!listener) throw noListener();
    {
        std::lock_guard lock(listener->mutex);
        if (!listener->open) throw noListener();
        ++listener->accepting;
    }
    // From here the listener's owner stays alive: its destroy waits for
    // `accepting` to drop to zero (unlisten) before anything else.
    struct Accepting {
        Listener& l;
        const Listener* outer = tAccepting;
        explicit Accepting(Listener& listener) : l(listener) { tAccepting = &l; }
        ~Accepting() {
            tAccepting = outer;
            std::lock_guard lock(l.mutex);
            --l.accepting;
            l.idle.notify_all();
        }
    } accepting(*listener);
    InprocTransport& server = *listener->owner;

    auto pipe = std::make_shared<Pipe>();
    pipe->inbox[0].capacity = maxQueued_;
    pipe->inbox[1].capacity = server.maxQueued_;
    auto client = std::make_shared<End>();
    client->id = nextId();
    client->side = 0;
    client->events = events;
    client->pipe = pipe;
    auto accepted = std::make_shared<End>();
    accepted->id = nextId();
    accepted->side = 1;
    accepted->pipe = pipe;

    // Both ends are known before the accept handler runs, so it may send on
    // (or close) the new connection; delivery starts only after it returns.
    adopt(client);
    server.adopt(accepted);
    std::string remote = "inproc://client-" + std::to_string(client->id);
    listener->handler.fn(listener->handler.ctx, toHandle(accepted->id), abi::str(remote),
                         &accepted->events);
    try {
        server.launch(accepted);
    } catch (...) {
        // No thread to deliver its events: drop both ends, fail the dial.
        pipe->close();
        {
            std::lock_guard lock(server.mutex_);
            server.ends_.erase(accepted->id);
        }
        std::lock_guard lock(mutex_);
        ends_.erase(client->id);
        throw;
    }
    try {
        launch(client);
    } catch (...) {
        pipe->close();  // the accepted side's thread reports the close
        std::lock_guard lock(mutex_);
        ends_.erase(client->id);
        throw;
    }
    return toHandle(client->id);
}

bool InprocTransport::send(void* handle, const micro_transport_message& message) {
    std::shared_ptr<End> end = findEnd(handle);
    if (!end) throw Error(Code::kUnavailable, "connection is closed");
    auto copy = std::make_unique<OwnedMessage>(message);
    Pipe& pipe = *end->pipe;
    std::lock_guard lock(pipe.mutex);
    if (pipe.closed) throw Error(Code::kUnavailable, "connection is closed");
    Pipe::Inbox& to = pipe.inbox[1 - end->side];
    if (to.messages >= to.capacity) {
        to.senderRefused = true;
        return false;
    }
    to.items.push_back(Item{Item::Kind::kMessage, std::move(copy), {}});
    ++to.messages;
    to.ready.notify_one();
    return true;
}

void InprocTransport::close(void* handle) noexcept {
    std::shared_ptr<End> end = findEnd(handle);
    if (end) end->pipe->close();
}

void InprocTransport::run(std::shared_ptr<End> end) noexcept {
    Pipe& pipe = *end->pipe;
    Pipe::Inbox& in = pipe.inbox[end->side];
    Pipe::Inbox& peer = pipe.inbox[1 - end->side];
    const micro_connection_events& ev = end->events;
    for (;;) {
        Item item;
        {
            std::unique_lock lock(pipe.mutex);
            in.ready.wait(lock, [&] { return !in.items.empty(); });
            item = std::move(in.items.front());
            in.items.pop_front();
            if (item.kind == Item::Kind::kMessage) {
                --in.messages;
                // A slot is free: tell a refused sender, through its own
                // queue so its callbacks stay serialized.
                if (in.senderRefused && !pipe.closed) {
                    in.senderRefused = false;
                    peer.items.push_back(Item{Item::Kind::kWritable, nullptr, {}});
                    peer.ready.notify_one();
                }
            }
        }
        if (item.kind == Item::Kind::kMessage) {
            micro_transport_message view = item.message->view();
            if (ev.on_message != nullptr) ev.on_message(ev.ctx, &view);
        } else if (item.kind == Item::Kind::kWritable) {
            if (ev.on_writable != nullptr) ev.on_writable(ev.ctx);
        } else {
            // Forget the handle first: a send from inside on_close, or
            // after, is UNAVAILABLE.
            {
                std::lock_guard lock(mutex_);
                ends_.erase(end->id);
            }
            if (ev.on_close != nullptr) ev.on_close(ev.ctx, MICRO_OK, abi::str(item.reason));
            break;
        }
    }
    retire(*end);
}

void InprocTransport::retire(End& end) noexcept {
    std::lock_guard lock(mutex_);
    // Moving the thread out means End's destructor (possibly on this very
    // thread, when its last reference goes) never sees it joinable.
    try {
        finished_.push_back(std::move(end.thread));
    } catch (...) {
        end.thread.detach();  // out of memory: it is returning now anyway
    }
    --running_;
    retired_.notify_all();
}

}  // namespace micro::memory
