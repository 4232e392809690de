// micro/driver/dispatch.hpp — internal: call a driver method in its
// synchronous form (return value completes the call) or, when the class
// offers it, its asynchronous form (a trailing Done&).
#pragma once

#include <micro/driver/plugin.hpp>

#define MICRO_DETAIL_DISPATCH(done, obj, method, ...)                                            \
    do {                                                                                         \
        if constexpr (requires(::micro::driver::Done & d_) { (obj).method(__VA_ARGS__, d_); }) { \
            ::micro::driver::completeAsync(                                                      \
                done, [&](::micro::driver::Done& d_) { (obj).method(__VA_ARGS__, d_); });        \
        } else {                                                                                 \
            ::micro::driver::completeWith(done, [&] { return (obj).method(__VA_ARGS__); });      \
        }                                                                                        \
    } while (0)
