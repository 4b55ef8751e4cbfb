#include "kbuild/background_make.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/spawn.h"
#include "common/status.h"
#include "kbuild/recipe.h"

extern "C" char** environ;

namespace kfarm {

absl::StatusOr<std::unique_ptr<BackgroundMake>> BackgroundMake::Start(
    const std::string& tree, const std::vector<std::string>& args,
    const std::vector<std::string>* env) {
  auto m = std::unique_ptr<BackgroundMake>(new BackgroundMake());
  m->tree_ = tree;
  char tmpl[] = "/tmp/kfarm-make-XXXXXX";
  int fd = mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0) return ErrnoError("mkstemp", tmpl);
  m->log_ = tmpl;
  std::vector<std::string> argv = {"make", "-C", tree};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> quoted;
  for (const auto& a : argv) quoted.push_back(ShellQuote(a));
  m->command_ = absl::StrJoin(quoted, " ");

  SpawnOptions o;
  o.argv = argv;
  if (env != nullptr) {
    o.set_env = true;
    o.env = *env;
  }
  o.out = o.err = SpawnStdio::Fd(fd);
  absl::StatusOr<pid_t> pid = Spawn(o);
  ::close(fd);
  if (!pid.ok()) return pid.status();
  m->pid_ = *pid;
  m->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
  return m;
}

BackgroundMake::~BackgroundMake() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  if (!log_.empty()) ::unlink(log_.c_str());
}

absl::Status BackgroundMake::Wait() {
  std::optional<absl::Status> done;
  while (!(done = Reap(/*block=*/true))) {
  }
  return *done;
}

std::optional<absl::Status> BackgroundMake::Poll() { return Reap(/*block=*/false); }

std::optional<absl::Status> BackgroundMake::Reap(bool block) {
  if (result_) return result_;
  int status = 0;
  const pid_t got = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (got < 0 && errno != EINTR) {
    pid_ = -1;
    result_ = ErrnoError("waitpid", command_);
    return result_;
  }
  if (got != pid_) return std::nullopt;
  pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result_ = absl::OkStatus();
  } else {
    std::string log = ReadFile(log_).value_or("");
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    result_ = absl::FailedPreconditionError(
        absl::StrCat("`", command_, "` in ", tree_, " failed:\n", log));
  }
  return result_;
}

}  // namespace kfarm
