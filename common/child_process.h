// Starting kfarm's own server binaries as children (`kfarm up`, tests, benchmarks).
#ifndef KFARM_COMMON_CHILD_PROCESS_H_
#define KFARM_COMMON_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace kfarm {

// Starts argv (argv[0] a path, or a name looked up in PATH) with the parent's environment and
// an empty signal mask, tied to its parent: the child gets SIGTERM when the thread that started
// it ends, so a farm never outlives whoever started it, even one killed outright (SIGKILL, a
// crash). Start children from a thread that lives as long as they should. -1 if it cannot fork.
pid_t StartTiedChild(const std::vector<std::string>& argv);

}  // namespace kfarm

#endif  // KFARM_COMMON_CHILD_PROCESS_H_
