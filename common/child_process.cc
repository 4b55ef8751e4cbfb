#include "common/child_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char** environ;

namespace kfarm {

pid_t StartTiedChild(const std::vector<std::string>& argv) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const bool has_path = !argv.empty() && argv[0].find('/') != std::string::npos;
  const pid_t parent = ::getpid();
  sigset_t none;
  sigemptyset(&none);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // The parent died before the tie was made.
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (has_path) {
    ::execve(args[0], args.data(), environ);
  } else {
    ::execvpe(args[0], args.data(), environ);
  }
  ::_exit(127);
}

}  // namespace kfarm
