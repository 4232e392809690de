#include "connection.hpp"

#include <micro/error.hpp>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include <vector>

#include "printable.hpp"
#include "sigpipe.hpp"

namespace micro::redis {

namespace {

timeval toTimeval(std::chrono::milliseconds ms) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

std::string prefix(std::string_view endpoint, std::string_view what) {
    std::string out = "redis " + std::string(endpoint) + ": ";
    if (!what.empty()) out += std::string(what) + ": ";
    return out;
}

bool startsWithWord(std::string_view message, std::string_view word) {
    return message.starts_with(word) &&
           (message.size() == word.size() || message[word.size()] == ' ');
}

Code codeOfServerError(std::string_view message) {
    for (std::string_view w : {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN",
                               "CLUSTERDOWN", "NOREPLICAS", "MISCONF"}) {
        if (startsWithWord(message, w)) return Code::kUnavailable;
    }
    if (startsWithWord(message, "NOAUTH") || startsWithWord(message, "WRONGPASS")) {
        return Code::kUnauthenticated;
    }
    if (startsWithWord(message, "NOPERM")) return Code::kPermissionDenied;
    if (startsWithWord(message, "OOM")) return Code::kResourceExhausted;
    if (message.starts_with("ERR Protocol error")) return Code::kFailedPrecondition;
    for (std::string_view w : {"WRONGTYPE", "MOVED", "ASK", "CROSSSLOT"}) {
        if (startsWithWord(message, w)) return Code::kFailedPrecondition;
    }
    return Code::kInternal;
}

/// The reply's error text as a view (error replies only).
std::string_view errorText(const redisReply& reply) noexcept {
    return reply.str == nullptr ? std::string_view{} : std::string_view(reply.str, reply.len);
}

}  // namespace

void throwServerError(std::string_view endpoint, std::string_view what, std::string_view message) {
    std::string text = prefix(endpoint, what) + printable(message.substr(0, 200));
    if (message.starts_with("MOVED") || message.starts_with("ASK")) {
        text += " (Redis Cluster is not supported: point the url at one primary)";
    } else if (message.starts_with("ERR Protocol error")) {
        text +=
            " (the server refused the request's size: its proto-max-bulk-len is below "
            "max_value_bytes)";
    }
    throw Error(codeOfServerError(message), text);
}

Connection::Connection(Private, std::unique_ptr<redisContext, ContextFree> context,
                       std::string endpoint, std::chrono::milliseconds commandTimeout)
    : context_(std::move(context)),
      endpoint_(std::move(endpoint)),
      commandTimeout_(commandTimeout) {}

std::unique_ptr<Connection> Connection::open(const ConnectOptions& options) {
    const std::string endpoint = options.url.endpoint();
    std::unique_ptr<redisContext, ContextFree> context(redisConnectWithTimeout(
        options.url.host.c_str(), options.url.port, toTimeval(options.connectTimeout)));
    if (!context)
        throw Error(Code::kResourceExhausted, prefix(endpoint, "connect") + "out of memory");
    if (context->err != 0) {
        std::string reason = context->errstr;
        if (reason.find("timed out") != std::string::npos ||
            reason.find("temporarily unavailable") != std::string::npos) {
            reason = "no connection within connect_timeout_ms (" +
                     std::to_string(options.connectTimeout.count()) + " ms)";
        }
        discardPendingSigpipe();
        throw Error(Code::kUnavailable, prefix(endpoint, "connect") + reason);
    }
    if (redisSetTimeout(context.get(), toTimeval(options.commandTimeout)) != REDIS_OK) {
        throw Error(Code::kUnavailable, prefix(endpoint, "connect") + "cannot set the timeout");
    }
    redisEnableKeepAlive(context.get());
    auto connection = std::make_unique<Connection>(Private{}, std::move(context), endpoint,
                                                   options.commandTimeout);

    if (!options.url.password.empty()) {
        std::vector<std::string_view> argv{"AUTH"};
        if (!options.url.username.empty()) argv.push_back(options.url.username);
        argv.push_back(options.url.password);
        Reply reply = connection->send(argv, "AUTH");
        if (reply->type == REDIS_REPLY_ERROR) {
            throw Error(Code::kUnauthenticated,
                        prefix(endpoint, "AUTH") + printable(errorText(*reply).substr(0, 200)));
        }
    }
    if (options.url.database != 0) {
        const std::string db = std::to_string(options.url.database);
        const std::string_view argv[] = {"SELECT", db};
        Reply reply = connection->send(argv, "SELECT");
        if (reply->type == REDIS_REPLY_ERROR) {
            Code code = codeOfServerError(errorText(*reply));
            throw Error(code == Code::kInternal ? Code::kInvalidArgument : code,
                        prefix(endpoint, "key 'url': SELECT " + db) +
                            printable(errorText(*reply).substr(0, 200)));
        }
    }
    return connection;
}

void Connection::breakFromContext() noexcept {
    broken_ = true;
    try {
        failure_ = context_->errstr;
        if (context_->err == REDIS_ERR_IO &&
            failure_.find("temporarily unavailable") != std::string::npos) {
            timedOut_ = true;
            failure_ = "no reply within command_timeout_ms (" +
                       std::to_string(commandTimeout_.count()) + " ms)";
        } else if (context_->err == REDIS_ERR_EOF || failure_.empty()) {
            failure_ = "the server closed the connection";
        }
    } catch (...) {
        failure_.clear();
    }
}

void Connection::failIo(std::string_view what) {
    discardPendingSigpipe();
    breakFromContext();
    throw Error(Code::kUnavailable, prefix(endpoint_, what) + failure_);
}

bool Connection::sendAll(std::string_view bytes) noexcept {
    if (broken_) return false;
    while (!bytes.empty()) {
        const ssize_t n = ::send(context_->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        const int error = n < 0 ? errno : EPIPE;
        broken_ = true;
        try {
            if (error == EAGAIN || error == EWOULDBLOCK) {
                timedOut_ = true;
                failure_ = "could not send within command_timeout_ms (" +
                           std::to_string(commandTimeout_.count()) + " ms)";
            } else if (error == EPIPE || error == ECONNRESET) {
                failure_ = "the server closed the connection";
            } else {
                failure_ = std::strerror(error);
            }
        } catch (...) {
            failure_.clear();
        }
        return false;
    }
    return true;
}

Reply Connection::readReply() noexcept {
    if (broken_) return Reply();
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
        breakFromContext();
        return Reply();
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR && errorText(*reply).starts_with("ERR Protocol error")) {
        broken_ = true;  // the server closes the connection after a protocol error
        try {
            failure_ = "the server closed the connection after a protocol error";
        } catch (...) {
            failure_.clear();
        }
    }
    return reply;
}

Reply Connection::send(std::span<const std::string_view> argv, std::string_view what) {
    if (broken_) throw Error(Code::kUnavailable, prefix(endpoint_, what) + "connection is broken");
    // Most commands have a few arguments: no allocation for those.
    constexpr std::size_t kInline = 16;
    std::array<const char*, kInline> fewPointers;
    std::array<std::size_t, kInline> fewLengths;
    std::vector<const char*> manyPointers;
    std::vector<std::size_t> manyLengths;
    const char** pointers = fewPointers.data();
    std::size_t* lengths = fewLengths.data();
    if (argv.size() > kInline) {
        manyPointers.resize(argv.size());
        manyLengths.resize(argv.size());
        pointers = manyPointers.data();
        lengths = manyLengths.data();
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
        pointers[i] = argv[i].data();
        lengths[i] = argv[i].size();
    }
    void* raw = redisCommandArgv(context_.get(), static_cast<int>(argv.size()), pointers, lengths);
    if (raw == nullptr) failIo(what);
    Reply reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR && errorText(*reply).starts_with("ERR Protocol error")) {
        broken_ = true;  // the server closes the connection after a protocol error
        discardPendingSigpipe();
    }
    return reply;
}

Reply Connection::command(std::span<const std::string_view> argv, std::string_view what) {
    Reply reply = send(argv, what);
    if (reply->type == REDIS_REPLY_ERROR) throwServerError(endpoint_, what, errorText(*reply));
    return reply;
}

Reply Connection::eval(ScriptId id, std::span<const std::string> keys,
                       std::span<const std::string> args, std::string_view what) {
    std::string& sha = shas_[static_cast<std::size_t>(id)];
    const std::string_view text = scriptText(id);
    if (sha.empty()) {
        const std::string_view load[] = {"SCRIPT", "LOAD", text};
        Reply loaded = command(load, what);
        if (loaded->type != REDIS_REPLY_STRING) {
            throw Error(Code::kInternal,
                        prefix(endpoint_, what) + "SCRIPT LOAD returned no digest");
        }
        sha.assign(loaded->str, loaded->len);
    }
    const std::string numkeys = std::to_string(keys.size());
    std::vector<std::string_view> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(sha);
    argv.push_back(numkeys);
    for (const auto& k : keys) argv.push_back(k);
    for (const auto& a : args) argv.push_back(a);
    Reply reply = send(argv, what);
    if (reply->type == REDIS_REPLY_ERROR && startsWithWord(errorText(*reply), "NOSCRIPT")) {
        // The server lost its script cache (restart, SCRIPT FLUSH): EVAL
        // runs the text and caches it again under the same digest.
        argv[0] = "EVAL";
        argv[1] = text;
        reply = send(argv, what);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        throwServerError(endpoint_,
                         std::string(what) + " (script " + std::string(scriptName(id)) + ")",
                         errorText(*reply));
    }
    return reply;
}

ScopedSigpipeBlock::ScopedSigpipeBlock() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigset_t old;
    if (pthread_sigmask(SIG_BLOCK, &set, &old) == 0) wasBlocked_ = sigismember(&old, SIGPIPE) == 1;
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
    if (wasBlocked_) return;
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) discardPendingSigpipe();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

bool Connection::idleHealthy() const noexcept {
    if (broken_ || context_->err != 0) return false;
    pollfd p{context_->fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 0);
    return ready == 0;  // nothing to read, no hang-up, no error
}

}  // namespace micro::redis
