// kfarm-sandbox-init: the first process (PID 1) of a kept-alive bubblewrap sandbox. Reads one
// request per action from stdin, runs the command in its own process group with exactly the
// requested arguments, environment, directory and output files, waits for it, then removes
// whatever it left behind that the worker cannot see from outside — processes (everything else
// in the PID namespace is killed), System V IPC objects, POSIX message queues and keys — so the
// next action starts from the same state. (Files: the sandbox's only writable places are binds
// of the slot's directories, which the worker empties.) Replies on stdout.
// Exits when the worker closes the pipe; the sandbox dies with it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "worker/sandbox_protocol.h"

namespace {

using kfarm::sandbox::Reply;
using kfarm::sandbox::Request;

[[noreturn]] void ExecChild(const Request& r) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  int in = open("/dev/null", O_RDONLY);
  int out = open(r.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(r.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0 || err < 0) _exit(127);
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  for (int fd : {in, out, err}) {
    if (fd > 2) close(fd);
  }
  if (chdir(r.cwd.c_str()) != 0) {
    dprintf(2, "kfarm sandbox: cannot enter %s: %s\n", r.cwd.c_str(), strerror(errno));
    _exit(127);
  }
  std::vector<char*> argv, env;
  for (const auto& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : r.env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  execve(r.program.c_str(), argv.data(), env.data());
  dprintf(2, "kfarm sandbox: cannot run %s: %s\n", r.program.c_str(), strerror(errno));
  _exit(127);
}

// Removes the System V IPC objects of this sandbox's IPC namespace: nothing outlives an action.
void RemoveIpcObjects() {
  struct Kind {
    const char* file;
    int (*remove)(int id);
  };
  const Kind kinds[] = {
      {"/proc/sysvipc/shm", [](int id) { return shmctl(id, IPC_RMID, nullptr); }},
      {"/proc/sysvipc/sem", [](int id) { return semctl(id, 0, IPC_RMID); }},
      {"/proc/sysvipc/msg", [](int id) { return msgctl(id, IPC_RMID, nullptr); }},
  };
  for (const Kind& k : kinds) {
    std::ifstream in(k.file);
    std::string line;
    std::getline(in, line);  // Header.
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      long key, id;
      if (fields >> key >> id) k.remove(static_cast<int>(id));
    }
  }
}

// POSIX message queues live in the IPC namespace, outside any directory the worker empties;
// bubblewrap mounts the namespace's queue filesystem at /dev/mqueue.
void RemoveMessageQueues() {
  DIR* d = opendir("/dev/mqueue");
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

// Keys an action added to its keyrings would be found by the next action: the user keyrings
// belong to the sandbox's uid, and the session keyring is this process's, inherited by each.
void ClearKeyrings() {
  syscall(SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_SESSION_KEYRING);
  syscall(SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING);
  syscall(SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_USER_SESSION_KEYRING);
}

int Serve() {
  signal(SIGPIPE, SIG_IGN);
  // An action runs as the same user: it must not be able to ptrace this process (or read its
  // memory through /proc/1) and so outlive itself in the actions that follow. Programs it
  // execs are dumpable again, as usual.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return 1;
  Request r;
  while (kfarm::sandbox::ReadRequest(0, &r)) {
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      close(0);
      close(1);
      ExecChild(r);
    }
    Reply reply;
    for (;;) {
      int status;
      pid_t got = waitpid(-1, &status, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) break;
      if (got == child) {
        reply.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
    }
    // As PID 1 of the namespace, -1 reaches every other process: daemons the action started.
    kill(-1, SIGKILL);
    while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    RemoveIpcObjects();
    RemoveMessageQueues();
    ClearKeyrings();
    if (!kfarm::sandbox::WriteReply(1, reply)) return 1;
  }
  return 0;
}

}  // namespace

int main() { return Serve(); }
