// Starting a process: the one place kfarm does it, for an action's command, a bubblewrap
// sandbox, make, a server binary, or a tool asked its version. posix_spawn (a vfork-like clone,
// cheap whatever the parent's size) unless the child must do something of its own first (tie
// itself to its parent, join a cgroup, take a file-size limit): then fork, with only
// async-signal-safe calls before exec. A just-written executable still open for writing
// somewhere in the process (its descriptor leaks into a concurrent fork until exec) fails with
// ETXTBSY for a moment: retried.
#ifndef KFARM_COMMON_SPAWN_H_
#define KFARM_COMMON_SPAWN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kfarm {

// Where one of the child's descriptors 0-2 goes: an open descriptor of the parent, a path opened
// for the child (read for stdin; write, created and truncated otherwise), /dev/null, or the
// parent's own.
struct SpawnStdio {
  enum class Kind { kNull, kInherit, kFd, kPath };
  Kind kind = Kind::kNull;
  int fd = -1;
  std::string path;

  static SpawnStdio Null() { return {}; }
  static SpawnStdio Inherit() { return {Kind::kInherit, -1, ""}; }
  static SpawnStdio Fd(int fd) { return {Kind::kFd, fd, ""}; }
  static SpawnStdio Path(std::string path) { return {Kind::kPath, -1, std::move(path)}; }
};

struct SpawnOptions {
  std::vector<std::string> argv;  // Must not be empty.
  // The file executed: empty runs argv[0], looked up in the parent's PATH when it has no '/'.
  std::string program;
  // NAME=VALUE each; exactly these when `set_env`, else the parent's environment.
  bool set_env = false;
  std::vector<std::string> env;
  std::string cwd;  // Empty: the parent's.
  SpawnStdio in, out, err;
  bool own_process_group = false;  // So the whole group can be killed at once.
  // Every signal at its default and none blocked, whatever the parent's threads had set.
  bool reset_signals = true;
  // Before exec, on the fork path only:
  bool tie_to_parent = false;         // SIGTERM when the thread that spawned it ends.
  std::vector<int> write_zero_to;     // Writes "0" to each (joining cgroups via cgroup.procs).
  int64_t max_file_bytes = 0;         // RLIMIT_FSIZE when > 0.
};

// The child's pid; an error naming the command when it cannot start.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// Runs argv (argv[0] looked up in PATH when it has no '/') with stdin and stderr on /dev/null,
// waits for it, and returns what it wrote to stdout (at most `max_bytes`) and its exit code
// (128 + the signal if one ended it). Arguments reach it as they are: no shell.
struct Captured {
  std::string out;
  int exit_code = 0;
};
absl::StatusOr<Captured> RunCapturingStdout(const std::vector<std::string>& argv,
                                            size_t max_bytes = 1 << 20);

}  // namespace kfarm

#endif  // KFARM_COMMON_SPAWN_H_
