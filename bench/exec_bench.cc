// Per-action overhead of remote execution on a local farm (`kfarm up`: scheduler + 2 workers,
// real processes over loopback): client-observed latency Execute -> COMPLETED for a trivial
// action whose inputs are cached, beside the bare cost of starting the same command here, and
// throughput with 16 concurrent clients. Usage: exec_bench [--runs=1000] [--clients=16]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/cas_client.h"
#include "bench/bench_process.h"
#include "common/execution_client.h"

ABSL_FLAG(int, runs, 1000, "Sequential executions for the latency figures");
ABSL_FLAG(int, clients, 16, "Concurrent clients for the throughput figure");
ABSL_FLAG(int, per_client, 50, "Executions per concurrent client");
ABSL_FLAG(std::string, sandbox, "bubblewrap", "Worker sandbox");

namespace kfarm {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

std::vector<double> TimeSpawns(std::vector<std::string> argv, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    pid_t pid = Spawn(argv);
    waitpid(pid, nullptr, 0);
    out.push_back(Ms(Clock::now() - start));
  }
  return out;
}

int Run() {
  const std::string bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  const std::string dir = std::filesystem::temp_directory_path() / "kfarm-exec-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string port_file = dir + "/port";
  pid_t farm = Spawn({bin + "/kfarm", "up", "--listen=127.0.0.1:0", "--data_dir=" + dir + "/farm",
                      "--port_file=" + port_file, "--workers=2", "--slots=1",
                      "--sandbox=" + absl::GetFlag(FLAGS_sandbox)});
  const int port = AwaitPortFile(port_file);
  if (port == 0) {
    std::fprintf(stderr, "the farm did not start\n");
    return 1;
  }
  auto channel = DialRemote(absl::StrCat("127.0.0.1:", port));
  CasClient cas(channel, "");
  ExecutionClient exec(channel, "");
  auto prepare = [&](const std::string& tag) {
    ActionSpec spec;
    spec.arguments = {"/bin/true"};
    spec.environment = {{"TAG", tag}};
    BuiltAction a = BuildAction(spec);
    cas.UploadMissing(a.blobs).IgnoreError();
    return a.digest;
  };
  ExecuteOptions run;
  run.skip_cache_lookup = true;  // Every call really executes.
  Digest trivial = prepare("latency");
  for (int i = 0; i < 20; ++i) exec.Execute(trivial, run).IgnoreError();  // Warm-up, workers up.

  const int runs = absl::GetFlag(FLAGS_runs);
  std::vector<double> lat;
  int failures = 0;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto r = exec.Execute(trivial, run);
    lat.push_back(Ms(Clock::now() - start));
    failures += !r.ok() || r->status().code() != 0;
  }

  const int clients = absl::GetFlag(FLAGS_clients), per = absl::GetFlag(FLAGS_per_client);
  std::vector<Digest> digests;
  for (int c = 0; c < clients; ++c) digests.push_back(prepare(absl::StrCat("client-", c)));
  std::atomic<int> concurrent_failures{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ExecutionClient own(DialRemote(absl::StrCat("127.0.0.1:", port)), "");
      for (int i = 0; i < per; ++i) {
        auto r = own.Execute(digests[c], run);
        if (!r.ok() || r->status().code() != 0) concurrent_failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  double wall = Ms(Clock::now() - start) / 1000;

  std::vector<double> bare = TimeSpawns({"/bin/true"}, 200);
  std::vector<double> bwrap = TimeSpawns(
      {"/usr/bin/bwrap", "--unshare-user", "--uid", "1000", "--gid", "1000", "--unshare-net",
       "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
       "--ro-bind", "/usr", "/usr", "--ro-bind", "/bin", "/bin", "--ro-bind", "/lib", "/lib",
       "--ro-bind", "/lib64", "/lib64", "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev",
       "/dev", "--tmpfs", "/tmp", "--clearenv", "--", "/bin/true"},
      200);
  if (farm > 0) {
    kill(farm, SIGTERM);
    waitpid(farm, nullptr, 0);
  }
  std::filesystem::remove_all(dir);

  std::printf("kfarm remote-execution overhead (kfarm up: 2 workers x 1 slot, sandbox %s, %u cores)\n\n",
              absl::GetFlag(FLAGS_sandbox).c_str(), std::thread::hardware_concurrency());
  std::printf("| %-52s | %12s | %-22s |\n", "measure", "result", "target");
  std::printf("|%s|%s|%s|\n", std::string(54, '-').c_str(), std::string(14, '-').c_str(),
              std::string(24, '-').c_str());
  auto row = [](const std::string& what, const std::string& v, const std::string& t) {
    std::printf("| %-52s | %12s | %-22s |\n", what.c_str(), v.c_str(), t.c_str());
  };
  row(absl::StrCat("Execute -> COMPLETED, ", runs, " runs, median"),
      absl::StrFormat("%.2f ms", Percentile(lat, 0.5)), "<= 5 ms");
  row(absl::StrCat("Execute -> COMPLETED, ", runs, " runs, p99"),
      absl::StrFormat("%.2f ms", Percentile(lat, 0.99)), "<= 20 ms");
  row("bare posix_spawn+wait of /bin/true, median", absl::StrFormat("%.2f ms", Percentile(bare, 0.5)),
      "floor");
  row("bare bubblewrap /bin/true (same flags), median",
      absl::StrFormat("%.2f ms", Percentile(bwrap, 0.5)), "sandbox floor");
  row(absl::StrCat(clients, " concurrent clients x ", per, " executions"),
      absl::StrFormat("%.0f actions/s", clients * per / wall), absl::StrFormat("%.2f s wall", wall));
  row("failed executions", absl::StrCat(failures + concurrent_failures.load()), "0");
  return failures + concurrent_failures.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kfarm::Run();
}
