// tools/bench/failure.hpp — what the load threads of a micro-bench case
// report when an operation fails: how many failed and the first error,
// printed once after the run instead of one line per failure.
#pragma once

#include <micro/error.hpp>

#include <cstdint>
#include <exception>
#include <mutex>
#include <string>

namespace micro::bench {

/// [thread-safe] Counts failures and keeps the first one's description.
struct Failure {
    std::mutex mutex;
    std::uint64_t count = 0;
    std::string first;

    void add(std::string what) {
        std::lock_guard lock(mutex);
        if (count++ == 0) first = std::move(what);
    }
};

/// An exception as one line: micro::Error with its code, else what().
inline std::string describe(const std::exception& e) {
    if (const auto* error = dynamic_cast<const Error*>(&e)) return error->describe();
    return e.what();
}

}  // namespace micro::bench
