#include "broker_link.hpp"

#include <micro/error.hpp>

#include <sys/time.h>

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
    return "redis " + std::string(endpoint) + ": " + std::string(what) + ": ";
}

}  // namespace

Link::Link(Private, redisContext* context, std::string endpoint,
           std::chrono::milliseconds readTimeout)
    : context_(context), endpoint_(std::move(endpoint)), readTimeout_(readTimeout) {}

Link::~Link() { redisFree(context_); }

std::unique_ptr<Link> Link::open(const RedisUrl& url, std::chrono::milliseconds connectTimeout,
                                 std::chrono::milliseconds readTimeout) {
    const std::string endpoint = url.endpoint();
    redisContext* raw =
        redisConnectWithTimeout(url.host.c_str(), url.port, toTimeval(connectTimeout));
    if (raw == nullptr)
        throw Error(Code::kResourceExhausted, prefix(endpoint, "connect") + "out of memory");
    // Owned from here on, also when a check below throws.
    auto link = std::make_unique<Link>(Private{}, raw, endpoint, readTimeout);
    if (raw->err != 0) {
        std::string reason = raw->errstr;
        if (reason.find("timed out") != std::string::npos ||
            reason.find("temporarily unavailable") != std::string::npos) {
            reason = "no connection within timeout_ms (" + std::to_string(connectTimeout.count()) +
                     " ms)";
        }
        discardPendingSigpipe();
        throw Error(Code::kUnavailable, prefix(endpoint, "connect") + reason);
    }
    link->setReadTimeout(readTimeout);
    redisEnableKeepAlive(raw);
    if (!url.password.empty()) {
        std::vector<std::string_view> argv{"AUTH"};
        if (!url.username.empty()) argv.push_back(url.username);
        argv.push_back(url.password);
        link->append(argv);
        Reply reply = link->read("AUTH");
        if (reply->type == REDIS_REPLY_ERROR) {
            throw Error(Code::kUnauthenticated,
                        prefix(endpoint, "AUTH") + printable(errorText(*reply).substr(0, 200)));
        }
    }
    if (url.database != 0) {
        const std::string db = std::to_string(url.database);
        const std::string_view argv[] = {"SELECT", db};
        link->append(argv);
        Reply reply = link->read("SELECT");
        if (reply->type == REDIS_REPLY_ERROR) {
            throw Error(Code::kInvalidArgument, prefix(endpoint, "key 'url': SELECT " + db) +
                                                    printable(errorText(*reply).substr(0, 200)));
        }
    }
    return link;
}

void Link::setReadTimeout(std::chrono::milliseconds timeout) {
    if (broken_) return;
    // A zero timeval means "wait forever" to setsockopt.
    if (redisSetTimeout(context_, toTimeval(timeout)) != REDIS_OK) {
        broken_ = true;
        throw Error(Code::kUnavailable, prefix(endpoint_, "connect") + "cannot set the timeout");
    }
    readTimeout_ = timeout;
}

void Link::append(std::span<const std::string_view> argv) {
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    pointers.reserve(argv.size());
    lengths.reserve(argv.size());
    for (std::string_view a : argv) {
        pointers.push_back(a.data());
        lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(),
                               lengths.data()) != REDIS_OK) {
        failIo("send");
    }
}

Reply Link::read(std::string_view what) {
    if (broken_) throw Error(Code::kUnavailable, prefix(endpoint_, what) + "connection is broken");
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) failIo(what);
    return Reply(static_cast<redisReply*>(raw));
}

Reply Link::command(std::span<const std::string_view> argv, std::string_view what) {
    append(argv);
    Reply reply = read(what);
    if (reply->type == REDIS_REPLY_ERROR) throwServerError(endpoint_, what, errorText(*reply));
    return reply;
}

void Link::failIo(std::string_view what) {
    broken_ = true;
    discardPendingSigpipe();
    std::string reason = context_->errstr;
    if (context_->err == REDIS_ERR_IO &&
        reason.find("temporarily unavailable") != std::string::npos) {
        reason = "no reply within timeout_ms (" + std::to_string(readTimeout_.count()) + " ms)";
    } else if (context_->err == REDIS_ERR_EOF || reason.empty()) {
        reason = "the server closed the connection";
    }
    throw Error(Code::kUnavailable, prefix(endpoint_, what) + reason);
}

}  // namespace micro::redis
