// watch_state.hpp — what a micro::Watch holds: the callbacks the driver calls
// through `ctx`, and how to stop. Stopping calls the driver's unwatch, after
// which the driver guarantees no further callback, so the state can go.
#pragma once

#include <micro/registry.hpp>

#include <functional>

namespace micro {

struct Watch::State {
    std::function<void(RegistryEvent, const Node&)> onEvent;
    std::function<void()> onChange;
    std::function<void()> stop;  // calls the driver's unwatch
};

}  // namespace micro
