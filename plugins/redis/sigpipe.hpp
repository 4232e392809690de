// plugins/redis/sigpipe.hpp — keep a dead socket from killing the process.
//
// hiredis writes with write(2), so a write to a connection the server has
// closed raises SIGPIPE, whose default action ends the whole process. A
// plugin must not change the process's signal dispositions, so instead every
// thread that talks to Redis (the store's worker threads, set up by the WorkerPool in
// redis_store.cpp) blocks SIGPIPE in its own signal mask: the signal then stays pending on that
// thread and the write fails with EPIPE, which the connection reports as UNAVAILABLE.
// discardPendingSigpipe() consumes it afterwards.
//
// Contract: both act on the calling thread only; safe from any thread.
#pragma once

namespace micro::redis {

/// Block SIGPIPE in the calling thread's signal mask.
void blockSigpipeInThisThread() noexcept;
/// Consume a SIGPIPE pending for the calling thread, if it has SIGPIPE
/// blocked (otherwise there is nothing pending to consume).
void discardPendingSigpipe() noexcept;

}  // namespace micro::redis
