#include "common/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_join.h"
#include "common/status.h"

extern char** environ;

namespace kfarm {
namespace {

// Transient: see spawn.h. 20 tries, backing off to 160 ms: about 3 s in all.
constexpr int kTextBusyTries = 20;

void BackOff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5 << std::min(attempt, 5)));
}

struct Prepared {
  std::vector<char*> argv;
  std::vector<char*> env;
  char** envp = nullptr;
  const char* program = nullptr;
  bool search = false;  // No '/' in it: looked up in PATH.
};

Prepared Prepare(const SpawnOptions& o) {
  Prepared p;
  for (const auto& a : o.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  if (o.set_env) {
    for (const auto& e : o.env) p.env.push_back(const_cast<char*>(e.c_str()));
    p.env.push_back(nullptr);
    p.envp = p.env.data();
  } else {
    p.envp = environ;
  }
  p.program = o.program.empty() ? o.argv[0].c_str() : o.program.c_str();
  p.search = std::string(p.program).find('/') == std::string::npos;
  return p;
}

int OpenFlags(int target) { return target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC; }

// The fork path's child: async-signal-safe calls only.
[[noreturn]] void ExecInChild(const SpawnOptions& o, const Prepared& p, pid_t parent) {
  if (o.tie_to_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // The parent died before the tie was made.
  }
  for (int fd : o.write_zero_to) {
    if (::write(fd, "0", 1) != 1) ::_exit(126);
  }
  if (o.max_file_bytes > 0) {
    const struct rlimit rl = {static_cast<rlim_t>(o.max_file_bytes),
                              static_cast<rlim_t>(o.max_file_bytes)};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(126);
  }
  if (o.own_process_group) ::setpgid(0, 0);
  if (o.reset_signals) {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  const SpawnStdio* stdio[3] = {&o.in, &o.out, &o.err};
  for (int target = 0; target < 3; ++target) {
    const SpawnStdio& s = *stdio[target];
    int fd = -1;
    switch (s.kind) {
      case SpawnStdio::Kind::kInherit:
        continue;
      case SpawnStdio::Kind::kFd:
        fd = s.fd;
        break;
      case SpawnStdio::Kind::kPath:
        fd = ::open(s.path.c_str(), OpenFlags(target), 0644);
        break;
      case SpawnStdio::Kind::kNull:
        fd = ::open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
        break;
    }
    if (fd < 0 || ::dup2(fd, target) < 0) ::_exit(126);
  }
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(126);
  if (p.search) {
    ::execvpe(p.program, p.argv.data(), p.envp);
  } else {
    ::execve(p.program, p.argv.data(), p.envp);
  }
  ::_exit(127);
}

absl::StatusOr<pid_t> SpawnWithFork(const SpawnOptions& o, const Prepared& p) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecInChild(o, p, parent);
  if (pid < 0) return ErrnoError("start", absl::StrJoin(o.argv, " "));
  return pid;
}

absl::StatusOr<pid_t> SpawnWithPosixSpawn(const SpawnOptions& o, const Prepared& p) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const SpawnStdio* stdio[3] = {&o.in, &o.out, &o.err};
  for (int target = 0; target < 3; ++target) {
    const SpawnStdio& s = *stdio[target];
    switch (s.kind) {
      case SpawnStdio::Kind::kInherit:
        break;
      case SpawnStdio::Kind::kFd:
        posix_spawn_file_actions_adddup2(&fa, s.fd, target);
        break;
      case SpawnStdio::Kind::kPath:
        posix_spawn_file_actions_addopen(&fa, target, s.path.c_str(), OpenFlags(target), 0644);
        break;
      case SpawnStdio::Kind::kNull:
        posix_spawn_file_actions_addopen(&fa, target, "/dev/null",
                                         target == 0 ? O_RDONLY : O_WRONLY, 0);
        break;
    }
  }
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = 0;
  if (o.reset_signals) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    flags |= POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  }
  if (o.own_process_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  int err = 0;
  for (int attempt = 0; attempt < kTextBusyTries; ++attempt) {
    err = p.search ? posix_spawnp(&pid, p.program, &fa, &attr, p.argv.data(), p.envp)
                   : posix_spawn(&pid, p.program, &fa, &attr, p.argv.data(), p.envp);
    if (err != ETXTBSY) break;
    BackOff(attempt);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoError("start", absl::StrJoin(o.argv, " "), err);
  return pid;
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return absl::InvalidArgumentError("a command to start has no arguments");
  const Prepared p = Prepare(o);
  const bool child_steps = o.tie_to_parent || !o.write_zero_to.empty() || o.max_file_bytes > 0;
  return child_steps ? SpawnWithFork(o, p) : SpawnWithPosixSpawn(o, p);
}

absl::StatusOr<Captured> RunCapturingStdout(const std::vector<std::string>& argv,
                                            size_t max_bytes) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe", absl::StrJoin(argv, " "));
  SpawnOptions o;
  o.argv = argv;
  o.out = SpawnStdio::Fd(pipe_fds[1]);
  absl::StatusOr<pid_t> pid = Spawn(o);
  ::close(pipe_fds[1]);
  if (!pid.ok()) {
    ::close(pipe_fds[0]);
    return pid.status();
  }
  Captured c;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    c.out.append(buf, std::min(static_cast<size_t>(n), max_bytes - std::min(max_bytes, c.out.size())));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return c;
}

}  // namespace kfarm
