// A bubblewrap sandbox kept alive for one build directory (one slot of the worker): the
// namespaces (user, network, PID, IPC, UTS, mount), the read-only toolchain binds and the input
// root bind are set up once, and each action is a request to the sandbox's first process
// (kfarm-sandbox-init), which runs the command inside and then removes whatever it left behind.
// Setting bubblewrap up costs 3-4 ms on our machines, several times a trivial action itself.
// The input root <dir>/root appears inside at a fixed path, the same for every slot and worker,
// so outputs that record absolute paths are reproducible; /tmp is <dir>/tmp (the caller empties
// both between actions); stdout/stderr are the files <dir>/io/stdout and <dir>/io/stderr.
// A timeout, a cancel or a limit kills the whole sandbox; the next Run starts a new one. The
// sandbox and everything it starts live in the slot's cgroup (see cgroup.h), made when the
// sandbox first starts.
#ifndef KFARM_WORKER_SANDBOX_H_
#define KFARM_WORKER_SANDBOX_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/cgroup.h"
#include "worker/process_runner.h"

namespace kfarm {

class PersistentSandbox : public CommandRunner {
 public:
  PersistentSandbox(SandboxOptions options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}
  ~PersistentSandbox() override { Stop(); }

  // Runs `spec` (whose input_root must be <dir>/root) inside, starting the sandbox if needed.
  absl::StatusOr<RunResult> Run(const RunSpec& spec, CancelSignal* cancel) override;

 private:
  absl::Status Start();
  void Stop();
  std::string StartupLog() const;
  // Which limit the running (or `finished`) action ran into since `before`, in words; "" if none.
  std::string LimitExceeded(const Cgroup::Counters& before, bool finished, int exit_code) const;

  const SandboxOptions options_;
  const std::string dir_;
  std::unique_ptr<Cgroup> cgroup_;  // Made on the first start, kept across restarts.
  pid_t pid_ = -1;  // bubblewrap, leading its own process group.
  int to_init_ = -1, from_init_ = -1;
};

// The program kfarm-sandbox-init, next to this executable.
std::string SandboxInitPath();

}  // namespace kfarm

#endif  // KFARM_WORKER_SANDBOX_H_
