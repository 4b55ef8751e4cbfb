// Runs the real kfarm-scheduler binary on a free loopback port for a test, and stops it.
#ifndef KFARM_TESTS_SCHEDULER_PROCESS_H_
#define KFARM_TESTS_SCHEDULER_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/channel.h>

#include "common/cas_client.h"
#include "common/child_process.h"

namespace kfarm {

class SchedulerProcess {
 public:
  // `extra` flags are appended; the data directory is kept across Restart().
  explicit SchedulerProcess(std::string data_dir, std::vector<std::string> extra = {})
      : data_dir_(std::move(data_dir)), extra_(std::move(extra)) {
    Start();
  }
  ~SchedulerProcess() { Stop(); }

  void Restart() {
    Stop();
    Start();
  }
  // SIGTERM, then waits for the exit; its wait status (-1 if not running).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> channel() const { return DialRemote(address()); }

 private:
  void Start() {
    std::string port_file = data_dir_ + "/port";
    ::unlink(port_file.c_str());
    std::vector<std::string> args = {std::string(KFARM_BIN_DIR) + "/kfarm-scheduler",
                                     "--listen=127.0.0.1:0", "--data_dir=" + data_dir_,
                                     "--port_file=" + port_file};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = StartTiedChild(args);
    for (int i = 0; i < 600 && pid_ > 0; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    port_ = 0;
  }

  std::string data_dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_TESTS_SCHEDULER_PROCESS_H_
