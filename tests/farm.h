// A local farm for integration tests: the real kfarm-scheduler (with a test configuration) and
// kfarm-worker processes on loopback, which a test can add, kill and wait for.
#ifndef KFARM_TESTS_FARM_H_
#define KFARM_TESTS_FARM_H_

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/scheduler_process.h"

namespace kfarm {

class Farm {
 public:
  // `execution` is the text of an ExecutionConfig (heartbeats, grace periods...); `flags` go to
  // the scheduler as well.
  Farm(const std::string& dir, const std::string& execution,
       const std::vector<std::string>& flags = {})
      : dir_(dir) {
    std::string config = dir + "/scheduler.conf";
    std::ofstream(config) << "execution {\n" << execution << "\n}\n";
    std::vector<std::string> args = {"--config=" + config};
    args.insert(args.end(), flags.begin(), flags.end());
    scheduler_ = std::make_unique<SchedulerProcess>(dir + "/scheduler", args);
  }
  ~Farm() {
    for (auto& [id, pid] : workers_) {
      ::kill(pid, SIGTERM);  // Drains...
      ::kill(pid, SIGINT);   // ...and stops at once: nothing is left to run for.
    }
    for (auto& [id, pid] : workers_) ::waitpid(pid, nullptr, 0);
    scheduler_.reset();
  }

  SchedulerProcess& scheduler() { return *scheduler_; }
  std::shared_ptr<grpc::Channel> channel() { return scheduler_->channel(); }

  void AddWorker(const std::string& id, int slots, const std::string& sandbox = "bubblewrap",
                 const std::vector<std::string>& properties = {},
                 const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args = WorkerArgs(id, slots, sandbox);
    for (const auto& p : properties) args.push_back("--property=" + p);
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    workers_[id] = StartTiedChild(args);
  }

  // A worker whose log goes to a file, for tests that read what it did; returns the file.
  std::string AddWorkerLoggingTo(const std::string& id, int slots, const std::string& sandbox) {
    const std::string log = dir_ + "/worker-" + id + ".log";
    // The shell execs the worker in its place: the pid is the worker's, for Signal and Kill.
    std::vector<std::string> args = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>\"" + log + "\""};
    for (std::string& a : WorkerArgs(id, slots, sandbox)) args.push_back(std::move(a));
    workers_[id] = StartTiedChild(args);
    return log;
  }

  void Signal(const std::string& id, int sig) {
    auto it = workers_.find(id);
    if (it != workers_.end() && it->second > 0) ::kill(it->second, sig);
  }

  // Waits for the worker to exit on its own; its wait status.
  int Wait(const std::string& id) {
    auto it = workers_.find(id);
    if (it == workers_.end() || it->second <= 0) return -1;
    int status = 0;
    ::waitpid(it->second, &status, 0);
    workers_.erase(it);
    return status;
  }

  void Kill(const std::string& id, int sig) {
    auto it = workers_.find(id);
    if (it == workers_.end() || it->second <= 0) return;
    ::kill(it->second, sig);
    ::waitpid(it->second, nullptr, 0);
    workers_.erase(it);
  }

 private:
  std::vector<std::string> WorkerArgs(const std::string& id, int slots, const std::string& sandbox) {
    return {std::string(KFARM_BIN_DIR) + "/kfarm-worker", "--scheduler=" + scheduler_->address(),
            "--data_dir=" + dir_ + "/worker-" + id, "--worker_id=" + id,
            absl::StrCat("--slots=", slots), "--sandbox=" + sandbox};
  }

  std::string dir_;
  std::unique_ptr<SchedulerProcess> scheduler_;
  std::map<std::string, pid_t> workers_;
};

}  // namespace kfarm

#endif  // KFARM_TESTS_FARM_H_
