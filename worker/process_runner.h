// Runs one action's command: exactly its arguments and environment (nothing inherited from the
// worker), stdout/stderr into files, in its own process group. A timeout or a cancel kills the
// whole process group.
#ifndef KFARM_WORKER_PROCESS_RUNNER_H_
#define KFARM_WORKER_PROCESS_RUNNER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/cgroup.h"
#include "worker/sandbox_paths.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kfarm {

struct RunSpec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string input_root;   // Absolute host path.
  std::string working_dir;  // Relative to input_root ("" = the root itself).
  std::string stdout_path;
  std::string stderr_path;
  // When set (>= 0), descriptors already open on those files, empty and at offset 0: the child
  // gets them with dup2 instead of opening and truncating the paths itself (every O_TRUNC is an
  // inode update through the filesystem's truncate path, even of an empty file).
  int stdout_fd = -1;
  int stderr_fd = -1;
  absl::Duration timeout;
};

struct RunResult {
  int exit_code = 0;
  bool timed_out = false;
  bool cancelled = false;
  // Set when the action ran into one of the worker's limits: which, in words.
  std::string limit_exceeded;
};

struct SandboxOptions {
  bool bubblewrap = true;
  std::vector<std::string> readonly_paths;  // Host paths visible read-only in the sandbox.
  std::string bwrap_path = "/usr/bin/bwrap";
  std::string setpriv_path = "/usr/bin/setpriv";  // Used with action_uid.
  // Host uid/gid bubblewrap runs as (it then maps the action's sandbox_uid to it); -1: the
  // worker's own. A root worker sets them: an action must never be host root.
  int action_uid = -1;
  int action_gid = -1;
  int sandbox_uid = 1000;  // The action's uid and gid as it sees them.
  // Set with action_uid: the build root and kfarm-sandbox-init as bubblewrap reaches them.
  std::optional<SandboxPaths> paths;
  ResourceLimits limits;
  // Each sandbox gets a cgroup named this plus its slot, when the machine has cgroups.
  std::string cgroup_prefix;
  // Told how long each (re)start of a kept-alive sandbox took; may be empty.
  std::function<void(absl::Duration)> started;
};

// Wakes a running process's wait so it is killed; safe from any thread.
class CancelSignal {
 public:
  CancelSignal();
  ~CancelSignal();
  void Cancel();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Runs `spec` directly (sandbox none; bubblewrap sandboxes are kept alive per build directory,
// see sandbox.h). Infrastructure failures (cannot spawn) are errors; the command's own failure
// is an exit code.
absl::StatusOr<RunResult> RunProcess(const RunSpec& spec, CancelSignal* cancel);

// Where one slot's commands run, as Ninja's CommandRunner: the slot's kept-alive bubblewrap
// sandbox, the worker's own process tree (sandbox none), or in tests a fake that plays a
// command's effects and outcome.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // As RunProcess: an error is the worker's failure, the command's own is in the result.
  virtual absl::StatusOr<RunResult> Run(const RunSpec& spec, CancelSignal* cancel) = 0;
};

// Makes the runner of the slot whose build directory is `slot_dir`, on the slot's first action.
using CommandRunnerFactory =
    std::function<std::unique_ptr<CommandRunner>(const std::string& slot_dir)>;

class DirectCommandRunner : public CommandRunner {
 public:
  absl::StatusOr<RunResult> Run(const RunSpec& spec, CancelSignal* cancel) override {
    return RunProcess(spec, cancel);
  }
};

// argv[0] resolved the way execvp would, but with the action's PATH rather than the worker's,
// relative to `cwd` (the action's working directory).
std::string ResolveProgram(const RunSpec& spec, const std::string& cwd);

}  // namespace kfarm

#endif  // KFARM_WORKER_PROCESS_RUNNER_H_
