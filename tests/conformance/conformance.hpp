// tests/conformance/conformance.hpp — what every conformance suite shares.
//
// The suites run against whatever drivers the manifest given to
// `micro-conformance --manifest FILE` selects; main.cpp loads it once into
// runtime(). Names handed to drivers (keys, topics, services, lock ids) come
// from unique(), so a run never sees data of an earlier run or of a parallel
// one against the same persistent server.
#pragma once

#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace conformance {

using namespace std::chrono_literals;

/// The runtime loaded from the manifest (valid for the whole test run).
micro::Runtime& runtime();

/// The address the transport suite listens on when the user chose one
/// (`--listen-address`, $MICRO_CONFORMANCE_LISTEN_ADDRESS, or the manifest's
/// `conformance_address` key in [transport]); empty when none was chosen.
const std::string& listenAddress();

/// A name unique to this run and call: "conf-<run id>-<n>-<label>". Only
/// [a-z0-9-] appear besides what `label` brings.
std::string unique(std::string_view label);

/// Generous upper bound for anything the suites wait for.
inline constexpr std::chrono::milliseconds kTimeout = 5s;

/// The result of running a callable: "OK", the code name of the
/// micro::Error it threw, or "exception" for anything else.
struct Outcome {
    std::string code;
    std::string message;
};

template <typename F>
Outcome outcome(F&& f) {
    try {
        std::forward<F>(f)();
        return {"OK", ""};
    } catch (const micro::Error& e) {
        return {micro::codeName(e.code()), e.what()};
    } catch (const std::exception& e) {
        return {"exception", e.what()};
    } catch (...) {
        return {"exception", "unknown exception"};
    }
}

/// A mutex and condition variable to wait for a condition set by driver
/// threads. Callbacks change shared state under lock(), then call notify().
class Signal {
 public:
    std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }
    void notify() { cv_.notify_all(); }
    /// Wait until `pred()` (evaluated under the lock) holds; false on timeout.
    template <typename Pred>
    bool waitFor(Pred pred, std::chrono::milliseconds timeout = kTimeout) {
        std::unique_lock<std::mutex> l(mutex_);
        return cv_.wait_for(l, timeout, pred);
    }

 private:
    std::mutex mutex_;
    std::condition_variable cv_;
};

/// Poll `pred` every 20 ms until it holds; false when `timeout` passed.
/// Only for state that nobody notifies about (a TTL running out).
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = kTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

/// Milliseconds since the Unix epoch.
inline std::int64_t nowUnixMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Every byte value 0..255, twice: a body or value no text codec survives.
inline std::string allBytes() {
    std::string s;
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
}

/// `s` quoted, with bytes outside printable ASCII as \xNN, cut after 80.
inline std::string printable(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == 80) {
            out += "...(" + std::to_string(s.size()) + " bytes)";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

template <typename Range>
std::string listText(const Range& range) {
    std::string out = "[";
    for (const auto& item : range) {
        if (out.size() > 1) out += ", ";
        out += printable(item);
    }
    return out + "]";
}

}  // namespace conformance

// Readable failure output for the containers the suites compare.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
    static String convert(const std::vector<std::string>& v) {
        return conformance::listText(v).c_str();
    }
};
template <>
struct StringMaker<std::set<std::string>> {
    static String convert(const std::set<std::string>& v) {
        return conformance::listText(v).c_str();
    }
};
}  // namespace doctest

/// Check that `expr` throws micro::Error with `expected` (a micro::Code), or
/// completes when `expected` is micro::Code::kOk.
#define CHECK_CODE(expr, expected)                                    \
    do {                                                              \
        const ::conformance::Outcome outcome_ =                       \
            ::conformance::outcome([&] { static_cast<void>(expr); }); \
        INFO("message: ", outcome_.message);                          \
        CHECK(outcome_.code == ::micro::codeName(expected));          \
    } while (false)

/// As CHECK_CODE, but stops the test case on mismatch.
#define REQUIRE_CODE(expr, expected)                                  \
    do {                                                              \
        const ::conformance::Outcome outcome_ =                       \
            ::conformance::outcome([&] { static_cast<void>(expr); }); \
        INFO("message: ", outcome_.message);                          \
        REQUIRE(outcome_.code == ::micro::codeName(expected));        \
    } while (false)
