#include "worker/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

absl::Status WriteValue(const std::string& file, const std::string& value) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open", file);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return ErrnoError(absl::StrCat("write \"", value, "\" to"), file);
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// "KEY N" lines (memory.events, memory.oom_control, pids.events): N for `key`, 0 if absent.
int64_t ReadCounter(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string k;
  int64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

// Where this process's cgroups are: "" for the v2 hierarchy, else each v1 controller.
std::map<std::string, std::string> OwnPaths() {
  std::map<std::string, std::string> paths;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (f[1].empty()) paths[""] = f[2];
    for (absl::string_view c : absl::StrSplit(f[1], ',')) paths[std::string(c)] = f[2];
  }
  return paths;
}

// Mount points of cgroup filesystems: "" for cgroup2, else each v1 controller.
std::map<std::string, std::string> Mounts() {
  std::map<std::string, std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size() || f.size() < 5) continue;
    if (f[dash + 1] == "cgroup2") mounts.emplace("", f[4]);
    if (f[dash + 1] == "cgroup") {
      for (absl::string_view o : absl::StrSplit(f[dash + 3], ',')) mounts.emplace(std::string(o), f[4]);
    }
  }
  return mounts;
}

// Where sandboxes' cgroups are made, decided once for the process.
struct Layout {
  absl::Status status;
  std::string v2;  // The parent directory under cgroup v2, or empty for v1.
  std::string v1_memory, v1_pids;
};

// cgroup v2: the worker's own cgroup must list memory and pids, and pass them down. A cgroup
// that holds processes cannot (the "no internal processes" rule), so the worker first moves
// itself into a leaf of its own, as a delegated systemd service does.
absl::Status SetUpV2(const std::string& dir) {
  const std::string controllers = ReadFile(dir + "/cgroup.controllers").value_or("");
  for (const char* c : {"memory", "pids"}) {
    if (controllers.find(c) == std::string::npos) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cgroup v2 at ", dir, " does not offer the ", c, " controller (cgroup.controllers: \"",
          absl::StripTrailingAsciiWhitespace(controllers), "\")"));
    }
  }
  const std::string subtree = dir + "/cgroup.subtree_control";
  if (WriteValue(subtree, "+memory +pids").ok()) return absl::OkStatus();
  const std::string leaf = dir + "/kfarm-worker";
  if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", leaf);
  RETURN_IF_ERROR(WriteValue(leaf + "/cgroup.procs", "0"));
  return WriteValue(subtree, "+memory +pids");
}

Layout Detect() {
  Layout l;
  const auto own = OwnPaths();
  const auto mounts = Mounts();
  absl::Status v2 = absl::NotFoundError("no cgroup2 filesystem is mounted");
  if (mounts.count("") && own.count("")) {
    const std::string dir = mounts.at("") + (own.at("") == "/" ? "" : own.at(""));
    v2 = SetUpV2(dir);
    if (v2.ok()) {
      l.v2 = dir;
      return l;
    }
  }
  for (auto [controller, out] : {std::pair{"memory", &l.v1_memory}, std::pair{"pids", &l.v1_pids}}) {
    if (!mounts.count(controller) || !own.count(controller)) continue;
    const std::string dir = mounts.at(controller) + (own.at(controller) == "/" ? "" : own.at(controller));
    if (::access(dir.c_str(), W_OK) == 0) *out = dir;
  }
  if (l.v1_memory.empty() && l.v1_pids.empty()) {
    l.status = absl::FailedPreconditionError(absl::StrCat(
        v2.message(), "; and no writable cgroup v1 memory or pids hierarchy"));
  }
  return l;
}

// Cgroups are named kfarm-PID-...: those of workers that are gone (killed before they could
// remove their own) are removed, once they hold no process.
void RemoveStale(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    int pid = 0;
    if (std::sscanf(e->d_name, "kfarm-%d-", &pid) == 1 && pid > 0 &&
        ::kill(pid, 0) != 0 && errno == ESRCH) {
      ::rmdir((parent + "/" + e->d_name).c_str());
    }
  }
  ::closedir(d);
}

const Layout& GetLayout() {
  static const Layout* layout = [] {
    auto* l = new Layout(Detect());
    for (const std::string* dir : {&l->v2, &l->v1_memory, &l->v1_pids}) {
      if (!dir->empty()) RemoveStale(*dir);
    }
    return l;
  }();
  return *layout;
}

}  // namespace

std::string DescribeBytes(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30) && bytes % (int64_t{1} << 30) == 0) return absl::StrCat(bytes >> 30, " GiB");
  if (bytes >= (int64_t{1} << 20) && bytes % (int64_t{1} << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes >= (int64_t{1} << 20)) return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  return absl::StrCat(bytes, " bytes");
}

absl::Status CheckCgroups() { return GetLayout().status; }

absl::StatusOr<std::unique_ptr<Cgroup>> Cgroup::Create(const std::string& name,
                                                       const ResourceLimits& limits) {
  const Layout& layout = GetLayout();
  RETURN_IF_ERROR(layout.status);
  std::unique_ptr<Cgroup> cg(new Cgroup());
  auto make = [&](const std::string& parent) -> absl::StatusOr<std::string> {
    const std::string dir = absl::StrCat(parent, "/kfarm-", ::getpid(), "-", name);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", dir);
    cg->dirs_.push_back(dir);
    UniqueFd fd(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("open", dir + "/cgroup.procs");
    cg->join_fds_.push_back(fd.release());
    return dir;
  };
  const std::string memory = limits.memory_bytes > 0 ? std::to_string(limits.memory_bytes) : "";
  const std::string pids = limits.max_processes > 0 ? std::to_string(limits.max_processes) : "max";
  if (!layout.v2.empty()) {
    ASSIGN_OR_RETURN(std::string dir, make(layout.v2));
    RETURN_IF_ERROR(WriteValue(dir + "/memory.max", memory.empty() ? "max" : memory));
    // Swap would let an action go past the limit at the cost of everything else on the machine.
    if (Exists(dir + "/memory.swap.max")) RETURN_IF_ERROR(WriteValue(dir + "/memory.swap.max", "0"));
    // An out-of-memory kill takes the whole sandbox, not one process of a build that then hangs.
    RETURN_IF_ERROR(WriteValue(dir + "/memory.oom.group", "1"));
    RETURN_IF_ERROR(WriteValue(dir + "/pids.max", pids));
    cg->oom_file_ = dir + "/memory.events";
    cg->pids_file_ = dir + "/pids.events";
    cg->describe_ = "cgroup v2 " + dir;
    return cg;
  }
  if (!layout.v1_memory.empty()) {
    ASSIGN_OR_RETURN(std::string dir, make(layout.v1_memory));
    // memsw (memory and swap) must stay at or above the plain limit: raised first, lowered
    // second, whichever this is.
    const std::string value = memory.empty() ? "-1" : memory;
    const std::string memsw = dir + "/memory.memsw.limit_in_bytes";
    if (Exists(memsw)) (void)WriteValue(memsw, value);
    RETURN_IF_ERROR(WriteValue(dir + "/memory.limit_in_bytes", value));
    if (Exists(memsw)) RETURN_IF_ERROR(WriteValue(memsw, value));
    cg->oom_file_ = dir + "/memory.oom_control";
    cg->describe_ = "cgroup v1 " + dir;
  }
  if (!layout.v1_pids.empty()) {
    ASSIGN_OR_RETURN(std::string dir, make(layout.v1_pids));
    RETURN_IF_ERROR(WriteValue(dir + "/pids.max", pids));
    cg->pids_file_ = dir + "/pids.events";
    absl::StrAppend(&cg->describe_, cg->describe_.empty() ? "cgroup v1 " : " and ", dir);
  }
  return cg;
}

bool Cgroup::KillAll() {
  for (const std::string& dir : dirs_) {
    if (Exists(dir + "/cgroup.kill")) (void)WriteValue(dir + "/cgroup.kill", "1");
  }
  for (int attempt = 0; attempt < 2500; ++attempt) {
    bool empty = true;
    for (const std::string& dir : dirs_) {
      std::istringstream procs(ReadFile(dir + "/cgroup.procs").value_or(""));
      for (pid_t pid; procs >> pid; empty = false) ::kill(pid, SIGKILL);
    }
    if (empty) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

Cgroup::~Cgroup() {
  for (int fd : join_fds_) ::close(fd);
  KillAll();
  for (const std::string& dir : dirs_) ::rmdir(dir.c_str());
}

Cgroup::Counters Cgroup::Read() const {
  Counters c;
  if (!oom_file_.empty()) c.oom_kills = ReadCounter(oom_file_, "oom_kill");
  if (!pids_file_.empty()) c.process_limit_hits = ReadCounter(pids_file_, "max");
  return c;
}

}  // namespace kfarm
