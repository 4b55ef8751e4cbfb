// What one sandbox (one slot of a worker) may use, and the control group that enforces it:
// memory (swap included) and processes, through cgroup v2 where the worker's own cgroup can hand
// the memory and pids controllers down, else through cgroup v1's memory and pids hierarchies.
// Without either, the worker says so at startup and only the limits that need no cgroup hold
// (file size, the disk reserve).
#ifndef KFARM_WORKER_CGROUP_H_
#define KFARM_WORKER_CGROUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kfarm {

struct ResourceLimits {
  int64_t memory_bytes = 0;        // Per sandbox, swap included; 0: none.
  int64_t max_processes = 0;       // Per sandbox; 0: none.
  int64_t max_file_bytes = 0;      // RLIMIT_FSIZE of every process in the sandbox; 0: none.
  int64_t disk_reserve_bytes = 0;  // An action stops when the build root's free space falls below.
};

class Cgroup {
 public:
  // How often the cgroup's processes ran into a limit, since it was made.
  struct Counters {
    int64_t oom_kills = 0;
    int64_t process_limit_hits = 0;
  };

  // Makes (or takes over) the cgroup kfarm-PID-`name` under the worker's own, with `limits`.
  static absl::StatusOr<std::unique_ptr<Cgroup>> Create(const std::string& name,
                                                        const ResourceLimits& limits);
  ~Cgroup();
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // Its cgroup.procs files, open for writing: a new process joins by writing "0" to each, in the
  // child before it execs (so nothing it starts is ever outside).
  const std::vector<int>& join_fds() const { return join_fds_; }
  Counters Read() const;
  // Kills every process in it and waits (up to 5 s) until none is left: false if some are.
  // A stopped sandbox's processes die on their own, but not at once, and a fork bomb still
  // dying would charge its forks to the next action.
  bool KillAll();
  std::string Describe() const { return describe_; }

 private:
  Cgroup() = default;

  std::vector<std::string> dirs_;  // One (v2) or one per hierarchy (v1).
  std::vector<int> join_fds_;
  std::string oom_file_;   // memory.events (v2) or memory.oom_control (v1): "oom_kill N".
  std::string pids_file_;  // pids.events: "max N".
  std::string describe_;
};

// Whether limits can be enforced with cgroups here: OK, or why not (for the startup log).
absl::Status CheckCgroups();

// "512 MiB", "3 GiB", "100 bytes": a size in messages about limits.
std::string DescribeBytes(int64_t bytes);

}  // namespace kfarm

#endif  // KFARM_WORKER_CGROUP_H_
