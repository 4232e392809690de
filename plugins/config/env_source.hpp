// plugins/config/env_source.hpp — config source "env": the process
// environment as a document.
//
// Contract
//   read: every variable whose name starts with `prefix` (config, default
//     "MICRO_"; "" takes every variable), as one `NAME=value` line each with
//     the prefix stripped, sorted by name, format "env". A variable named
//     exactly the prefix is skipped, and so is one whose value holds a
//     newline (it cannot be one line; a warning is logged naming it).
//     No watch: the environment of a running process does not change
//     under it by anyone else's hand.
//   Threads: read may be called from any thread. Like getenv, it races with
//     a setenv/putenv on another thread; the core never does that.
#pragma once

#include <micro/driver/config_source.hpp>

#include <string>

namespace micro::config {

class EnvSource {
 public:
    explicit EnvSource(const driver::Context& ctx);
    void read(driver::DocumentSink& out);

 private:
    const micro_host* host_;
    std::string instanceName_;  // the Context's view is borrowed only for create
    std::string prefix_;
};

}  // namespace micro::config
