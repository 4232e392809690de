#include "sigpipe.hpp"

#include <pthread.h>
#include <signal.h>
#include <time.h>

namespace micro::redis {

void blockSigpipeInThisThread() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void discardPendingSigpipe() noexcept {
    sigset_t current;
    if (pthread_sigmask(SIG_BLOCK, nullptr, &current) != 0 || !sigismember(&current, SIGPIPE)) {
        return;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
}

}  // namespace micro::redis
