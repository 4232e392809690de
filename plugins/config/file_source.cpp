#include "file_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <thread>

namespace micro::config {

namespace {

/// What the poller compares. Inode catches a replace-by-rename that keeps
/// size and mtime; nanosecond mtime catches a rewrite of the same size.
struct Stamp {
    bool exists = false;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtimeNs = 0;

    bool operator==(const Stamp&) const = default;
};

Stamp stampOf(const std::string& path) noexcept {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Stamp{};
    return Stamp{true, st.st_ino, st.st_size,
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::string formatFor(const std::string& path) {
    std::filesystem::path p(path);
    std::string ext = p.extension().string();
    if (ext == ".toml") return "toml";
    if (ext == ".json") return "json";
    if (ext == ".yaml" || ext == ".yml") return "yaml";
    if (ext == ".env" || p.filename() == ".env") return "env";
    return {};
}

/// A file descriptor closed on scope exit.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

struct FileSource::Watch {
    micro_change_handler handler{};
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    std::thread thread;

    void requestStop() {
        {
            std::lock_guard lock(mutex);
            stop = true;
        }
        wake.notify_all();
    }
    ~Watch() {
        if (thread.joinable()) thread.join();
    }
};

FileSource::FileSource(const driver::Context& ctx) {
    ctx.config.allowOnly({"path", "format", "poll_ms"});
    auto path = ctx.config.find("path");
    if (!path || path->empty()) throw Error(Code::kInvalidArgument, "key 'path' is required");
    path_ = *path;
    format_ = ctx.config.getString("format", "");
    if (format_.empty()) {
        format_ = formatFor(path_);
        if (format_.empty()) {
            throw Error(Code::kInvalidArgument,
                        "cannot tell the format of '" + path_ +
                            "' from its extension: set key 'format' (toml, json, yaml or env)");
        }
    } else if (format_ != "toml" && format_ != "json" && format_ != "yaml" && format_ != "env") {
        throw Error(Code::kInvalidArgument,
                    "key 'format': expected toml, json, yaml or env, got '" + format_ + "'");
    }
    std::int64_t poll = ctx.config.getInt("poll_ms", 500);
    if (poll <= 0) {
        throw Error(Code::kInvalidArgument,
                    "key 'poll_ms': must be > 0, got " + std::to_string(poll));
    }
    poll_ = std::chrono::milliseconds(poll);
}

FileSource::~FileSource() {
    // [control]: nothing else is in flight, so no lock is needed to take them.
    for (auto& [handle, w] : watches_) w->requestStop();
    for (auto& w : stopped_) w->requestStop();
    watches_.clear();  // each Watch joins its thread
    stopped_.clear();
}

void FileSource::read(driver::DocumentSink& out) {
    Fd file{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
    auto fail = [&](int err) {
        Code code = err == ENOENT   ? Code::kNotFound
                    : err == EACCES ? Code::kPermissionDenied
                    : err == EISDIR ? Code::kInvalidArgument
                                    : Code::kUnavailable;
        if (err == ENOENT) return Error(code, "config file '" + path_ + "' does not exist");
        return Error(code, "cannot read config file '" + path_ + "': " + std::strerror(err));
    };
    if (file.fd < 0) throw fail(errno);
    std::string document;
    struct stat st {};
    if (::fstat(file.fd, &st) == 0 && st.st_size > 0) {
        document.reserve(static_cast<std::size_t>(st.st_size));
    }
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(file.fd, buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            throw fail(errno);
        }
        document.append(buffer, static_cast<std::size_t>(n));
    }
    out.emit(document, format_);
}

void* FileSource::watch(micro_change_handler handler) {
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no change handler");
    auto w = std::make_unique<Watch>();
    w->handler = handler;
    Watch* raw = w.get();
    // The first stamp is taken now, so a change after watch() returns is seen.
    raw->thread = std::thread([raw, path = path_, poll = poll_, last = stampOf(path_)]() mutable {
        std::unique_lock lock(raw->mutex);
        while (!raw->wake.wait_for(lock, poll, [&] { return raw->stop; })) {
            lock.unlock();
            Stamp now = stampOf(path);
            if (now != last) {
                last = now;
                raw->handler.fn(raw->handler.ctx);
            }
            lock.lock();
        }
    });
    std::lock_guard lock(mutex_);
    watches_.emplace(raw, std::move(w));
    return raw;
}

void FileSource::unwatch(void* handle) noexcept {
    std::unique_ptr<Watch> w;
    {
        std::lock_guard lock(mutex_);
        auto it = watches_.find(handle);
        if (it == watches_.end()) return;
        w = std::move(it->second);
        watches_.erase(it);
    }
    w->requestStop();
    if (w->thread.get_id() == std::this_thread::get_id()) {
        // From inside the handler: joining would wait on ourselves. The
        // loop sees `stop` once the handler returns; destroy joins it.
        std::lock_guard lock(mutex_);
        try {
            stopped_.push_back(std::move(w));
        } catch (...) {
            w->thread.detach();  // out of memory; it is about to return anyway
        }
        return;
    }
    w.reset();  // joins
}

}  // namespace micro::config
