#include "worker/process_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/spawn.h"
#include "common/status.h"

namespace kfarm {
namespace {

std::string Lookup(const std::vector<std::pair<std::string, std::string>>& env,
                   const std::string& name, const std::string& fallback) {
  for (const auto& [k, v] : env) {
    if (k == name) return v;
  }
  return fallback;
}

}  // namespace

std::string ResolveProgram(const RunSpec& spec, const std::string& cwd) {
  const std::string& prog = spec.argv[0];
  if (prog.find('/') != std::string::npos) {
    return prog[0] == '/' ? prog : cwd + "/" + prog;
  }
  for (absl::string_view dir : absl::StrSplit(Lookup(spec.env, "PATH", "/usr/bin:/bin"), ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", prog);
    if (candidate[0] != '/') candidate = cwd + "/" + candidate;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return prog;
}

namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

CancelSignal::CancelSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
CancelSignal::~CancelSignal() { ::close(fd_); }
void CancelSignal::Cancel() {
  uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

absl::StatusOr<RunResult> RunProcess(const RunSpec& spec, CancelSignal* cancel) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("the command has no arguments");
  const std::string cwd =
      spec.working_dir.empty() ? spec.input_root : spec.input_root + "/" + spec.working_dir;
  SpawnOptions o;
  o.argv = spec.argv;
  o.program = ResolveProgram(spec, cwd);
  o.set_env = true;
  for (const auto& [k, v] : spec.env) o.env.push_back(k + "=" + v);
  o.cwd = cwd;
  o.out = spec.stdout_fd >= 0 ? SpawnStdio::Fd(spec.stdout_fd) : SpawnStdio::Path(spec.stdout_path);
  o.err = spec.stderr_fd >= 0 ? SpawnStdio::Fd(spec.stderr_fd) : SpawnStdio::Path(spec.stderr_path);
  o.own_process_group = true;
  ASSIGN_OR_RETURN(const pid_t pid, Spawn(o));

  RunResult result;
  int pidfd = PidfdOpen(pid);
  const absl::Time deadline = absl::Now() + spec.timeout;
  bool killed = false;
  for (;;) {
    int status = 0;
    pid_t got = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (got == pid) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (got < 0 && errno != EINTR) break;
    if (killed) continue;
    struct pollfd fds[2] = {{pidfd, POLLIN, 0}, {cancel ? cancel->fd() : -1, POLLIN, 0}};
    int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    int ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, 1000))));
    if (ready > 0 && (fds[0].revents & POLLIN)) continue;  // Exited: reap it above.
    bool cancelled = ready > 0 && (fds[1].revents & POLLIN);
    if (cancelled || absl::Now() >= deadline) {
      result.cancelled = cancelled;
      result.timed_out = !cancelled;
      ::kill(-pid, SIGKILL);
      killed = true;
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return result;
}

}  // namespace kfarm
