// Prints what a process started this way may use, for cpu_budget_test:
// "usable=N io_threads=M" (driver::usableCpus and the socket transports'
// default io_threads).
#include <micro/driver/cpu_budget.hpp>
#include <micro/transport_common/io_threads.hpp>

#include <cstdio>

int main() {
    std::printf("usable=%zu io_threads=%lld\n", micro::driver::usableCpus(),
                static_cast<long long>(micro::transport_common::defaultIoThreads()));
    return 0;
}
