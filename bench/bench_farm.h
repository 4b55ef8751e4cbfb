// A farm of real kfarm processes on loopback for the benchmarks, and what they cost.
#ifndef KFARM_BENCH_BENCH_FARM_H_
#define KFARM_BENCH_BENCH_FARM_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/bench_process.h"
#include "common/cas_client.h"
#include "bench/execute_calls.h"
#include "common/execution_client.h"

namespace kfarm {

// utime + stime of a process, from /proc; with `children`, also of the children it reaped
// (a worker's actions).
inline double CpuSeconds(pid_t pid, bool children = false) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string field, line;
  std::getline(in, line);
  // Fields after the command name, which may hold spaces: it ends at the last ')'.
  std::vector<std::string> f = absl::StrSplit(line.substr(line.rfind(')') + 2), ' ');
  double ticks = 0;
  // f[0] is field 3 (state): utime/stime are fields 14/15, cutime/cstime 16/17.
  for (int i = 14; i <= (children ? 17 : 15); ++i) ticks += std::stod(f[i - 3]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Farm {
  std::string dir;
  pid_t scheduler = -1;
  std::vector<pid_t> workers;
  int port = 0;
  ~Farm() {
    // A failed spawn leaves -1, and kill(-1) would signal every process we may signal.
    for (pid_t w : workers) {
      if (w > 0) kill(w, SIGTERM);
    }
    for (pid_t w : workers) {
      if (w > 0) waitpid(w, nullptr, 0);
    }
    if (scheduler > 0) {
      kill(scheduler, SIGTERM);
      waitpid(scheduler, nullptr, 0);
    }
  }
  // Bytes the workers' caches hold: what they fetched, as nothing is evicted in a benchmark.
  int64_t CachedBytes() const { return BytesUnder("/cache/plain/blobs/"); }
  // Bytes in the scheduler's CAS: what clients and workers uploaded.
  int64_t StoredBytes() const { return BytesUnder("/s/cas/blobs/"); }

 private:
  int64_t BytesUnder(const std::string& part) const {
    int64_t total = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string p = it->path().string();
      if (p.find(part) != std::string::npos && it->is_regular_file()) {
        total += static_cast<int64_t>(it->file_size());
      }
    }
    return total;
  }
};

// A scheduler and `workers` worker processes of one slot each; `worker_args` are added to each.
inline std::unique_ptr<Farm> StartFarm(const std::string& bin, const std::string& dir, int workers,
                                       const std::string& execution_config,
                                       const std::vector<std::string>& worker_args) {
  auto farm = std::make_unique<Farm>();
  farm->dir = dir;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/scheduler.conf") << "execution {\n" << execution_config << "\n}\n";
  std::vector<std::string> sched = {bin + "/kfarm-scheduler", "--listen=127.0.0.1:0",
                                    "--config=" + dir + "/scheduler.conf",
                                    "--data_dir=" + dir + "/s", "--port_file=" + dir + "/port"};
  // KFARM_BENCH_WRAP="perf record -g -o FILE --" profiles the scheduler.
  if (const char* wrap = getenv("KFARM_BENCH_WRAP")) {
    std::vector<std::string> w = absl::StrSplit(wrap, ' ', absl::SkipEmpty());
    sched.insert(sched.begin(), w.begin(), w.end());
  }
  farm->scheduler = Spawn(sched);
  farm->port = AwaitPortFile(dir + "/port");
  const std::string address = absl::StrCat("127.0.0.1:", farm->port);
  for (int i = 0; i < workers; ++i) {
    std::vector<std::string> args = {bin + "/kfarm-worker", "--scheduler=" + address,
                                     absl::StrCat("--data_dir=", dir, "/w", i),
                                     absl::StrCat("--worker_id=w", i), "--slots=1"};
    args.insert(args.end(), worker_args.begin(), worker_args.end());
    farm->workers.push_back(Spawn(args));
  }
  return farm;
}

// Runs every action once, `clients` at a time; returns the wall time in seconds. `metadata`,
// when given, receives each successful action's execution metadata. Streams share connections,
// 16 to one, as a client process multiplexes its calls; connections are up before the clock
// starts: the figure is the farm's.
inline double RunAll(const std::string& address, const std::vector<Digest>& digests, int clients,
                     int* failures,
                     std::vector<reapi::ExecutedActionMetadata>* metadata = nullptr) {
  std::vector<std::unique_ptr<reapi::Execution::Stub>> stubs;
  for (int c = 0; c < clients; c += 16) {
    auto channel = DialRemote(address);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stubs.push_back(reapi::Execution::NewStub(channel));
  }
  ExecuteCalls calls(digests, std::move(stubs), metadata);
  auto start = std::chrono::steady_clock::now();
  *failures += calls.Run(clients);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kfarm

#endif  // KFARM_BENCH_BENCH_FARM_H_
