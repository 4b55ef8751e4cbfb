// Process-wide settings for kfarm's long-running binaries.
#ifndef KFARM_COMMON_PROCESS_INIT_H_
#define KFARM_COMMON_PROCESS_INIT_H_

#include "absl/synchronization/mutex.h"

namespace kfarm {

// Debian's Abseil is built with Mutex deadlock detection on: a lock-order graph updated on every
// acquisition, measured at several percent of the farm's CPU. The in-process unit tests keep it.
inline void InitServerProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace kfarm

#endif  // KFARM_COMMON_PROCESS_INIT_H_
