#include "client/up_command.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/child_process.h"

namespace kfarm {
namespace {

std::string BinDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

// The status page's address by default: beside the gRPC one.
std::string HttpAddress(const UpOptions& o) {
  if (o.http_listen == "none") return "";
  if (!o.http_listen.empty()) return o.http_listen;
  const size_t colon = o.listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(o.listen.substr(colon + 1), &port)) {
    return "";
  }
  return absl::StrCat(o.listen.substr(0, colon), ":", port == 0 ? 0 : port + 1);
}

// Waits up to 6 s for a port file a child writes once it listens; 0 if it never does.
int AwaitPort(const std::string& path) {
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::ifstream in(path);
    if (!(in >> port)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return port;
}

}  // namespace

int RunUp(const UpOptions& o) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // Children start with an empty mask.

  const std::string bin = BinDir();
  const std::string data = std::filesystem::absolute(o.data_dir).lexically_normal().string();
  std::filesystem::create_directories(data);
  const std::string port_file = data + "/scheduler.port";
  const std::string http_port_file = data + "/scheduler.http-port";
  std::filesystem::remove(port_file);
  std::filesystem::remove(http_port_file);
  const std::string http = HttpAddress(o);
  std::vector<pid_t> children;
  // The whole farm goes down: a worker's first signal would drain it (for a scheduler that stays),
  // the second stops it at once.
  auto stop_all = [&] {
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      kill(*it, SIGTERM);
      if (*it != children.front()) kill(*it, SIGINT);
    }
    for (pid_t p : children) waitpid(p, nullptr, 0);
  };

  std::vector<std::string> sched_args = {bin + "/kfarm-scheduler", "--listen=" + o.listen,
                                         "--data_dir=" + data + "/scheduler",
                                         "--port_file=" + port_file};
  if (!http.empty()) {
    sched_args.push_back("--http_listen=" + http);
    sched_args.push_back("--http_port_file=" + http_port_file);
  }
  pid_t sched = StartTiedChild(sched_args);
  if (sched < 0) {
    std::cerr << "kfarm up: cannot start " << bin << "/kfarm-scheduler\n";
    return 1;
  }
  children.push_back(sched);
  const int port = AwaitPort(port_file);
  if (port == 0) {
    std::cerr << "kfarm up: the scheduler did not start listening on " << o.listen << "\n";
    stop_all();
    return 1;
  }
  const std::string endpoint = absl::StrCat("grpc://127.0.0.1:", port);
  const int http_port = http.empty() ? 0 : AwaitPort(http_port_file);
  if (!http.empty() && http_port == 0) {
    std::cerr << "kfarm up: the scheduler did not serve HTTP on " << http
              << " (pass --http_listen=HOST:PORT, or none)\n";
    stop_all();
    return 1;
  }
  int slots = o.slots_per_worker > 0
                  ? o.slots_per_worker
                  : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / o.workers);
  for (int i = 0; i < o.workers; ++i) {
    pid_t w = StartTiedChild({bin + "/kfarm-worker", "--scheduler=" + endpoint,
                     absl::StrCat("--data_dir=", data, "/worker-", i),
                     absl::StrCat("--worker_id=local-", i), absl::StrCat("--slots=", slots),
                     "--sandbox=" + o.sandbox});
    if (w > 0) children.push_back(w);
  }
  if (!o.port_file.empty()) {
    std::ofstream(o.port_file + ".tmp") << port << "\n";
    std::filesystem::rename(o.port_file + ".tmp", o.port_file);
  }
  std::cout << "kfarm up: scheduler at " << endpoint << " with " << o.workers << " worker(s) × "
            << slots << " slot(s); data in " << data << "\n"
            << "  bazel build --remote_executor=" << endpoint << " ...\n";
  if (http_port != 0) {
    std::cout << "  status page: http://" << http.substr(0, http.rfind(':')) << ":" << http_port
              << "/   (kfarm status, or /metrics for Prometheus)\n";
  }
  std::cout << "Ctrl-C stops everything." << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "kfarm up: stopping" << std::endl;
  stop_all();
  return 0;
}

}  // namespace kfarm
