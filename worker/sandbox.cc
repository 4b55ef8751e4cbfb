#include "worker/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/status.h"
#include "worker/sandbox_protocol.h"

extern "C" char** environ;

namespace kfarm {
namespace {

// Inside, the input root is always here, whichever slot and worker: outputs that record absolute
// paths (debug info, for one) come out the same everywhere.
constexpr char kInsideRoot[] = "/kfarm/build/root";
constexpr char kInsideIo[] = "/kfarm/io";
constexpr char kInsideInit[] = "/kfarm/init";

// bubblewrap's --die-with-parent is the kernel's parent-death signal, which fires when the
// *thread* that spawned it exits, and actions run on short-lived threads. Sandboxes are spawned
// from this one thread, which lives as long as the process.
class SpawnThread {
 public:
  static SpawnThread& Get() {
    static SpawnThread* t = new SpawnThread();  // Never destroyed: its thread never ends.
    return *t;
  }
  // Runs `fn` on the spawn thread and waits for it.
  void Run(std::function<void()> fn) {
    Task task{std::move(fn), false};
    absl::MutexLock lock(&mu_);
    queue_.push_back(&task);
    mu_.Await(absl::Condition(&task.done));
  }

 private:
  struct Task {
    std::function<void()> fn;
    bool done;
  };
  SpawnThread() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      mu_.Await(absl::Condition(this, &SpawnThread::HasWork));
      Task* t = queue_.front();
      queue_.pop_front();
      mu_.Unlock();
      t->fn();
      mu_.Lock();
      t->done = true;
    }
  }
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty(); }

  absl::Mutex mu_;
  std::deque<Task*> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string SandboxInitPath() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "kfarm-sandbox-init").string();
}

std::string PersistentSandbox::StartupLog() const {
  std::string log = ReadFile(dir_ + "/sandbox.log").value_or("");
  absl::string_view shown = absl::StripTrailingAsciiWhitespace(absl::string_view(log).substr(0, 2000));
  return shown.empty() ? "" : absl::StrCat(": ", shown);
}

absl::Status PersistentSandbox::Start() {
  if (cgroup_ == nullptr && !options_.cgroup_prefix.empty()) {
    const std::string name =
        options_.cgroup_prefix + "-" + std::filesystem::path(dir_).filename().string();
    auto cg = Cgroup::Create(name, options_.limits);
    if (!cg.ok()) return Annotate(cg.status(), "the sandbox's cgroup for " + dir_);
    cgroup_ = std::move(*cg);
  }
  const std::string real_init = SandboxInitPath();
  if (::access(real_init.c_str(), X_OK) != 0) {
    return ErrnoError("find the sandbox's first process", real_init);
  }
  // The paths bubblewrap (running as the action user) can reach; see sandbox_paths.h.
  const std::string init = options_.paths ? options_.paths->init : real_init;
  const std::string here = options_.paths ? options_.paths->ForSandbox(dir_) : dir_;
  int req[2], resp[2];
  if (::pipe2(req, O_CLOEXEC) != 0) return ErrnoError("pipe", dir_);
  if (::pipe2(resp, O_CLOEXEC) != 0) {
    ::close(req[0]);
    ::close(req[1]);
    return ErrnoError("pipe", dir_);
  }
  std::vector<std::string> a;
  if (options_.action_uid >= 0) {
    // util-linux's setpriv drops to the action user (all groups and capabilities gone) and
    // execs bubblewrap, whose user namespace then maps the action's sandbox uid to that user.
    a = {options_.setpriv_path, absl::StrCat("--reuid=", options_.action_uid),
         absl::StrCat("--regid=", options_.action_gid), "--clear-groups", "--"};
  }
  const std::string inside = std::to_string(options_.sandbox_uid);
  a.insert(a.end(), {options_.bwrap_path, "--unshare-user", "--uid", inside, "--gid", inside,
                     "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                     "--die-with-parent", "--new-session", "--as-pid-1"});
  for (const std::string& p : options_.readonly_paths) {
    if (::access(p.c_str(), F_OK) == 0) a.insert(a.end(), {"--ro-bind", p, p});
  }
  // The input root at a fixed path, the slot's tmp/ and shm/ as /tmp and /dev/shm, and
  // stdout/stderr as two files bound into a read-only directory: each can be written but not
  // replaced (the worker reads them outside the sandbox). Nothing else of the slot directory is
  // visible. The worker empties all of them between actions.
  const std::string io = here + "/io";
  a.insert(a.end(), {"--ro-bind", init, kInsideInit, "--proc", "/proc", "--dev", "/dev",
                     "--bind", here + "/shm", "/dev/shm", "--mqueue", "/dev/mqueue",
                     "--bind", here + "/root", kInsideRoot, "--bind", here + "/tmp", "/tmp",
                     "--ro-bind", io, kInsideIo,
                     "--bind", io + "/stdout", std::string(kInsideIo) + "/stdout",
                     "--bind", io + "/stderr", std::string(kInsideIo) + "/stderr",
                     // bubblewrap's own tmpfs for / and /dev would otherwise be writable, and
                     // kept from one action to the next: only the binds above are.
                     "--remount-ro", "/dev", "--remount-ro", "/",
                     "--clearenv", "--", kInsideInit});
  const std::string log = dir_ + "/sandbox.log";
  UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  absl::StatusOr<pid_t> pid = ErrnoError("open", log);
  if (log_fd.get() >= 0) {
    SpawnOptions o;
    o.argv = std::move(a);
    o.set_env = true;  // Empty: bubblewrap and the sandbox get nothing of the worker's.
    o.in = SpawnStdio::Fd(req[0]);
    o.out = SpawnStdio::Fd(resp[1]);
    o.err = SpawnStdio::Fd(log_fd.get());
    o.own_process_group = true;
    // Joined and limited before anything of the sandbox runs: no process of it is ever
    // outside them.
    if (cgroup_) o.write_zero_to = cgroup_->join_fds();
    o.max_file_bytes = options_.limits.max_file_bytes;
    SpawnThread::Get().Run([&] { pid = Spawn(o); });
  }
  ::close(req[0]);
  ::close(resp[1]);
  if (!pid.ok()) {
    ::close(req[1]);
    ::close(resp[0]);
    return absl::Status(pid.status().code(),
                        absl::StrCat("cannot start bubblewrap: ", pid.status().message()));
  }
  pid_ = *pid;
  to_init_ = req[1];
  from_init_ = resp[0];
  return absl::OkStatus();
}

void PersistentSandbox::Stop() {
  if (to_init_ >= 0) ::close(to_init_);
  if (from_init_ >= 0) ::close(from_init_);
  to_init_ = from_init_ = -1;
  if (pid_ > 0) {
    // bubblewrap's death takes the sandbox's first process (--die-with-parent), and with it
    // everything in the PID namespace.
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  if (cgroup_ != nullptr && !cgroup_->KillAll()) {
    // Processes that cannot be killed: the next sandbox must not share their limits.
    LogWarning("processes of the sandbox in ", dir_, " outlived it in ", cgroup_->Describe());
    cgroup_.reset();
  }
}

absl::StatusOr<RunResult> PersistentSandbox::Run(const RunSpec& spec, CancelSignal* cancel) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("the command has no arguments");
  if (pid_ < 0) {
    const absl::Time start = absl::Now();
    RETURN_IF_ERROR(Start());
    if (options_.started) options_.started(absl::Now() - start);
  }
  const std::string cwd =
      spec.working_dir.empty() ? spec.input_root : spec.input_root + "/" + spec.working_dir;
  auto inside = [&](const std::string& host) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{dir_ + "/root", kInsideRoot},
                                   {dir_ + "/io", kInsideIo}}) {
      if (host.compare(0, from.size(), from) == 0 &&
          (host.size() == from.size() || host[from.size()] == '/')) {
        return to + host.substr(from.size());
      }
    }
    return host;
  };
  sandbox::Request req;
  req.program = inside(ResolveProgram(spec, cwd));
  req.argv = spec.argv;
  for (const auto& [k, v] : spec.env) req.env.push_back(k + "=" + v);
  req.cwd = inside(cwd);
  req.stdout_path = inside(spec.stdout_path);
  req.stderr_path = inside(spec.stderr_path);
  const Cgroup::Counters before = cgroup_ ? cgroup_->Read() : Cgroup::Counters{};
  RunResult result;
  // The sandbox died under the action (as a whole-sandbox out-of-memory kill does), or could
  // not take it: a limit when the cgroup says so, else the worker's failure.
  auto died = [&](const std::string& what) -> absl::StatusOr<RunResult> {
    std::string log = StartupLog();
    Stop();
    result.limit_exceeded = LimitExceeded(before, /*finished=*/true, 0);
    if (result.limit_exceeded.empty()) {
      return absl::UnavailableError(absl::StrCat("the bubblewrap sandbox in ", dir_, what, log));
    }
    result.exit_code = 128 + SIGKILL;
    return result;
  };
  if (!sandbox::WriteRequest(to_init_, req)) return died(" exited");
  const absl::Time deadline = absl::Now() + spec.timeout;
  // Limits are looked at while the action runs; a short action never waits for a tick.
  const bool watch = cgroup_ != nullptr || options_.limits.disk_reserve_bytes > 0;
  const int64_t tick_ms = watch ? 200 : 1000;
  for (;;) {
    struct pollfd fds[2] = {{from_init_, POLLIN, 0}, {cancel ? cancel->fd() : -1, POLLIN, 0}};
    int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    int ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, tick_ms))));
    if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      sandbox::Reply reply;
      if (!sandbox::ReadReply(from_init_, &reply)) return died(" exited while running " + spec.argv[0]);
      result.exit_code = reply.exit_code;
      result.limit_exceeded = LimitExceeded(before, /*finished=*/true, reply.exit_code);
      return result;
    }
    const bool cancelled = ready > 0 && (fds[1].revents & POLLIN);
    std::string limit = ready == 0 && watch ? LimitExceeded(before, /*finished=*/false, 0) : "";
    if (cancelled || !limit.empty() || absl::Now() >= deadline) {
      result.cancelled = cancelled;
      result.limit_exceeded = std::move(limit);
      result.timed_out = !cancelled && result.limit_exceeded.empty();
      result.exit_code = 128 + SIGKILL;
      Stop();
      return result;
    }
  }
}

std::string PersistentSandbox::LimitExceeded(const Cgroup::Counters& before, bool finished,
                                             int exit_code) const {
  const ResourceLimits& l = options_.limits;
  const Cgroup::Counters now = cgroup_ ? cgroup_->Read() : Cgroup::Counters{};
  if (now.oom_kills > before.oom_kills) {
    return absl::StrCat("the action went over the worker's memory limit of ",
                        DescribeBytes(l.memory_bytes),
                        " per action (limits.memory_bytes) and was killed by the kernel");
  }
  if (now.process_limit_hits > before.process_limit_hits) {
    return absl::StrCat("the action reached the worker's limit of ", l.max_processes,
                        " processes per action (limits.max_processes)",
                        finished ? "" : " and was stopped");
  }
  if (finished && l.max_file_bytes > 0 && exit_code == 128 + SIGXFSZ) {
    return absl::StrCat("a process of the action wrote past the worker's file size limit of ",
                        DescribeBytes(l.max_file_bytes), " (limits.max_file_bytes)");
  }
  struct statvfs fs;
  if (!finished && l.disk_reserve_bytes > 0 && ::statvfs(dir_.c_str(), &fs) == 0 &&
      static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize) < l.disk_reserve_bytes) {
    return absl::StrCat("the worker's build disk fell below its reserve of ",
                        DescribeBytes(l.disk_reserve_bytes),
                        " free (limits.disk_reserve_bytes) while the action ran; it was stopped");
  }
  return "";
}

}  // namespace kfarm
