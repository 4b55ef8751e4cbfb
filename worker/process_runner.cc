#include "worker/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

void InitCommandSpawnAttr(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &defaults);
  posix_spawnattr_setpgroup(attr, 0);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                     POSIX_SPAWN_SETSIGDEF);
}

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
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env;
  for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
  const std::string program = ResolveProgram(spec, cwd);
  std::vector<char*> cargv, cenv;
  for (auto& s : argv) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  for (auto& s : env) cenv.push_back(s.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  for (auto [target, fd, path] : {std::tuple{1, spec.stdout_fd, &spec.stdout_path},
                                  std::tuple{2, spec.stderr_fd, &spec.stderr_path}}) {
    if (fd >= 0) {
      posix_spawn_file_actions_adddup2(&fa, fd, target);
    } else {
      posix_spawn_file_actions_addopen(&fa, target, path->c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
  }
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  InitCommandSpawnAttr(&attr);
  pid_t pid = -1;
  int err = 0;
  // ETXTBSY: another thread of this process may briefly hold a just-written executable open
  // for writing (its fd leaks into a concurrent fork until exec). It is transient: retry.
  for (int attempt = 0; attempt < 20; ++attempt) {
    err = posix_spawn(&pid, program.c_str(), &fa, &attr, cargv.data(), cenv.data());
    if (err != ETXTBSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << std::min(attempt, 5)));
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoError("spawn", absl::StrJoin(spec.argv, " "), err);

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
