// plugins/config/file_source.hpp — config source "file": one file read
// whole, watched by polling.
//
// Contract
//   Config: `path` (required; relative paths are relative to the process's
//     working directory), `format` (toml, json, yaml or env; default: from
//     the extension .toml, .json, .yaml/.yml, .env), `poll_ms` (default 500).
//     A missing `path` or an unknown format is INVALID_ARGUMENT at create.
//   read: the whole file and its format. A missing file -> NOT_FOUND naming
//     the path; unreadable -> PERMISSION_DENIED or UNAVAILABLE.
//   watch: one plugin thread per watch compares (existence, inode, size,
//     mtime) every poll_ms and calls the handler after each change seen
//     (appearing, disappearing and replacing by rename count). Changes made
//     after watch() returns are seen; several between two polls are one call.
//   unwatch: stops and joins the watch thread; after it returns the handler
//     is never called again. It should not be called from inside the
//     handler; if it is, the thread is left to finish and joined at destroy.
//   Threads: every method may be called concurrently from any thread.
//     Destroy joins every watch thread.
#pragma once

#include <micro/driver/config_source.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace micro::config {

class FileSource {
 public:
    explicit FileSource(const driver::Context& ctx);
    ~FileSource();
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;

    void read(driver::DocumentSink& out);
    void* watch(micro_change_handler handler);
    void unwatch(void* watch) noexcept;

 private:
    struct Watch;

    std::string path_;
    std::string format_;
    std::chrono::milliseconds poll_{500};

    std::mutex mutex_;  // guards the two below
    std::unordered_map<void*, std::unique_ptr<Watch>> watches_;
    std::vector<std::unique_ptr<Watch>> stopped_;  // unwatched from their own thread
};

}  // namespace micro::config
