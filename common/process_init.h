// Process-wide settings for kfarm's long-running binaries.
#ifndef KFARM_COMMON_PROCESS_INIT_H_
#define KFARM_COMMON_PROCESS_INIT_H_

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace kfarm {

// Debian's Abseil is built with Mutex deadlock detection on: a lock-order graph updated on every
// acquisition, measured at several percent of the farm's CPU. The in-process unit tests keep it.
//
// Blobs stream in 1 MiB messages, and glibc's default policy hands such buffers back to the kernel
// (munmap, heap trim) as soon as they are freed, so every message costs 256 fresh page faults.
// Keeping buffers up to 8 MiB in the heap, and up to 64 MiB of free heap untrimmed, removes that.
inline void InitServerProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace kfarm

#endif  // KFARM_COMMON_PROCESS_INIT_H_
