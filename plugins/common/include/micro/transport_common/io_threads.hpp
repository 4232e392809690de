// micro/transport_common/io_threads.hpp — how many io threads a socket
// transport starts when its config has no `io_threads`.
//
// Contract: half the CPUs this process may use (micro/driver/cpu_budget.hpp:
// its affinity mask and its cgroup's CPU quota), at least one. Reads the
// cgroup files on each call: call it once, when reading the settings.
//
// Why half: the io threads are half of the work. Handlers run on the
// service's handler pool by default, and the process has its registry,
// broker and timers besides; an io thread per CPU would share every CPU
// with them, and a request whose io thread waits for a time slice behind a
// busy thread waits a whole slice (4 ms at HZ = 250). A service that runs
// its handlers inline and has the CPUs to itself sets io_threads to its
// CPU count.
#pragma once

#include <micro/driver/cpu_budget.hpp>

#include <algorithm>
#include <cstdint>

namespace micro::transport_common {

inline std::int64_t defaultIoThreads() noexcept {
    return static_cast<std::int64_t>(std::max<std::size_t>(driver::usableCpus() / 2, 1));
}

}  // namespace micro::transport_common
