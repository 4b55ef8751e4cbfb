// Process-wide settings for kfarm's long-running binaries.
#ifndef KFARM_COMMON_PROCESS_INIT_H_
#define KFARM_COMMON_PROCESS_INIT_H_

#include <malloc.h>
#include <signal.h>

#include "absl/synchronization/mutex.h"

namespace kfarm {

// Debian's Abseil is built with Mutex deadlock detection on: a lock-order graph updated on every
// acquisition, measured at several percent of the farm's CPU. The in-process unit tests keep it.
//
// Blobs stream in 1 MiB messages, and glibc's default policy hands such buffers back to the kernel
// (munmap, heap trim) as soon as they are freed, so every message costs 256 fresh page faults.
// Keeping buffers up to 8 MiB in the heap, and up to 64 MiB of free heap untrimmed, removes that.
//
// A write to a pipe whose reader is gone (a sandbox that died before it read its request) must
// fail with EPIPE, which the caller reports, not kill the whole server with SIGPIPE — silently,
// taking every running action with it. Children get every signal back at its default (Spawn).
inline void InitServerProcess() {
  ::signal(SIGPIPE, SIG_IGN);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace kfarm

#endif  // KFARM_COMMON_PROCESS_INIT_H_
