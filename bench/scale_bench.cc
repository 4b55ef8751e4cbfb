// Scheduling at scale on this machine, with real processes over loopback:
//  1. scale simulation: W worker processes, N actions that each sleep S ms; wall time against the
//     ideal N*S/W;
//  2. growth: scheduler CPU per action as the number of distinct actions grows (1k, 2k, 4k) —
//     it must stay flat, i.e. total cost linear in the count.
// Workers use --sandbox=none here: the figure is the scheduler's, not bubblewrap's.
// Usage: scale_bench [--workers=64] [--actions=2000] [--sleep_ms=50] [--growth=1000,2000,4000]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/cas_client.h"
#include "bench/bench_farm.h"
#include "common/execution_client.h"
#include "common/input_tree.h"
#include "google/protobuf/util/time_util.h"

ABSL_FLAG(int, workers, 64, "Worker processes (1 slot each)");
ABSL_FLAG(int, actions, 2000, "Actions in the scale simulation");
ABSL_FLAG(int, sleep_ms, 50, "What each simulated action sleeps");
ABSL_FLAG(std::vector<std::string>, growth, (std::vector<std::string>{"1000", "2000", "4000"}),
          "Action counts for growth");
ABSL_FLAG(int, clients, 256, "Concurrent client streams");

namespace kfarm {
namespace {

// Simulated actions need no tools and no sandbox: the figure is the scheduler's.
const std::vector<std::string> kSimWorker = {"--sandbox=none", "--detect_tools=false"};

// Where a round of the simulation goes, from the actions' own metadata: how long each action ran
// (spawn to reap) and how long its worker then waited for the next one.
struct RoundTimes {
  double run_ms = 0;  // Mean.
  double gap_ms = 0;  // Median.
};

RoundTimes Rounds(const std::vector<reapi::ExecutedActionMetadata>& timeline) {
  using google::protobuf::util::TimeUtil;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> by_worker;
  double run_total = 0;
  for (const auto& m : timeline) {
    const int64_t start = TimeUtil::TimestampToNanoseconds(m.worker_start_timestamp());
    const int64_t done = TimeUtil::TimestampToNanoseconds(m.worker_completed_timestamp());
    by_worker[m.worker()].emplace_back(start, done);
    run_total += TimeUtil::TimestampToNanoseconds(m.execution_completed_timestamp()) -
                 TimeUtil::TimestampToNanoseconds(m.execution_start_timestamp());
  }
  std::vector<int64_t> gaps;
  for (auto& [worker, runs] : by_worker) {
    std::sort(runs.begin(), runs.end());
    for (size_t i = 1; i < runs.size(); ++i) gaps.push_back(runs[i].first - runs[i - 1].second);
  }
  RoundTimes t;
  if (!timeline.empty()) t.run_ms = run_total / static_cast<double>(timeline.size()) / 1e6;
  if (!gaps.empty()) {
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<long>(gaps.size() / 2), gaps.end());
    t.gap_ms = static_cast<double>(gaps[gaps.size() / 2]) / 1e6;
  }
  return t;
}

std::vector<Digest> Prepare(CasClient& cas, int n, const std::vector<std::string>& command,
                            const std::string& tag) {
  std::vector<Digest> out;
  std::vector<BlobSource> blobs;
  for (int i = 0; i < n; ++i) {
    ActionSpec s;
    s.arguments = command;
    s.environment = {{"MODULE", absl::StrCat(tag, "-", i)}, {"PATH", "/usr/bin:/bin"}};
    s.do_not_cache = true;
    BuiltAction a = BuildAction(s);
    out.push_back(a.digest);
    blobs.insert(blobs.end(), a.blobs.begin(), a.blobs.end());
  }
  cas.UploadMissing(blobs).IgnoreError();
  return out;
}

int Run() {
  const std::string bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  const std::string dir = std::filesystem::temp_directory_path() / "kfarm-scale-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const int nworkers = absl::GetFlag(FLAGS_workers), nactions = absl::GetFlag(FLAGS_actions);
  const int sleep_ms = absl::GetFlag(FLAGS_sleep_ms), clients = absl::GetFlag(FLAGS_clients);

  std::unique_ptr<Farm> farm = StartFarm(bin, dir + "/main", nworkers, "", kSimWorker);
  const std::string address = absl::StrCat("127.0.0.1:", farm->port);
  auto channel = DialRemote(address);
  CasClient cas(channel, "");
  int failures = 0;

  // Cache affinity: a build whose actions share a 2 MiB base (like modules and the base BTF),
  // 2 clients on 8 idle workers, with and without affinity; bytes the workers fetched.
  std::vector<std::pair<bool, int64_t>> affinity;
  for (bool on : {true, false}) {
    auto f = StartFarm(bin, dir + (on ? "/aff-on" : "/aff-off"), 8,
                       on ? "" : "disable_cache_affinity: true", kSimWorker);
    const std::string a = absl::StrCat("127.0.0.1:", f->port);
    CasClient c(DialRemote(a), "");
    std::string base(2 << 20, '\0');
    for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<char>(i * 7919 % 251);
    std::vector<Digest> digests;
    std::vector<BlobSource> blobs;
    Digest base_digest = Digest::Of(base);
    blobs.push_back({base_digest, "", std::make_shared<const std::string>(base)});
    for (int i = 0; i < 40; ++i) {
      std::string mod = absl::StrCat("module ", i);
      InputTree t;
      t.AddFile("base.btf", base_digest, false).IgnoreError();
      t.AddFile("m.o", Digest::Of(mod), false).IgnoreError();
      InputTree::Built b = t.Build();
      for (auto& [d, bytes] : b.directories) blobs.push_back({d, "", std::make_shared<const std::string>(bytes)});
      blobs.push_back({Digest::Of(mod), "", std::make_shared<const std::string>(mod)});
      ActionSpec s;
      s.arguments = {"/bin/sh", "-c", "cat m.o base.btf > /dev/null"};
      s.input_root = b.root;
      s.do_not_cache = true;
      BuiltAction act = BuildAction(s);
      blobs.insert(blobs.end(), act.blobs.begin(), act.blobs.end());
      digests.push_back(act.digest);
    }
    c.UploadMissing(blobs).IgnoreError();
    RunAll(a, digests, 2, &failures);
    affinity.emplace_back(on, f->CachedBytes());
  }

  // Warm-up: every worker connected and has run something.
  RunAll(address, Prepare(cas, nworkers * 2, {"/bin/true"}, "warm"), nworkers, &failures);

  auto sim = Prepare(cas, nactions, {"/bin/sleep", absl::StrFormat("%.3f", sleep_ms / 1000.0)},
                     "sim");
  // The workers' own CPU apart from their actions': on a VM, starting a dynamically linked
  // process costs ~0.7 ms of CPU (glibc probes the caches with CPUID, which traps to the
  // hypervisor), which is the action's cost, not the farm's.
  auto workers_cpu = [&](bool with_actions) {
    double total = 0;
    for (pid_t w : farm->workers) total += CpuSeconds(w, with_actions);
    return total;
  };
  const double sched0 = CpuSeconds(farm->scheduler), workers0 = workers_cpu(false);
  const double with_actions0 = workers_cpu(true), self0 = CpuSeconds(getpid());
  std::fprintf(stderr, "scale_bench: simulation starting\n");  // For profilers to attach.
  std::vector<reapi::ExecutedActionMetadata> timeline;
  double wall = RunAll(address, sim, clients, &failures, &timeline);
  const RoundTimes rounds = Rounds(timeline);
  const double sim_sched = CpuSeconds(farm->scheduler) - sched0;
  const double sim_workers = workers_cpu(false) - workers0;
  const double sim_actions = workers_cpu(true) - with_actions0 - sim_workers;
  const double sim_client = CpuSeconds(getpid()) - self0;
  double ideal = nactions * sleep_ms / 1000.0 / nworkers;

  std::vector<std::tuple<int, double, double>> growth;
  for (const std::string& g : absl::GetFlag(FLAGS_growth)) {
    int n = std::stoi(g);
    auto digests = Prepare(cas, n, {"/bin/true"}, absl::StrCat("grow", n));
    double cpu0 = CpuSeconds(farm->scheduler);
    double t = RunAll(address, digests, clients, &failures);
    growth.emplace_back(n, t, CpuSeconds(farm->scheduler) - cpu0);
  }
  std::filesystem::remove_all(dir);

  std::printf("kfarm scheduling at scale (%d worker processes x 1 slot, sandbox none, %u cores)\n\n",
              nworkers, std::thread::hardware_concurrency());
  std::printf("| %-58s | %-24s | %-16s |\n", "measure", "result", "target");
  std::printf("|%s|%s|%s|\n", std::string(60, '-').c_str(), std::string(26, '-').c_str(),
              std::string(18, '-').c_str());
  std::printf("| %-58s | %-24s | %-16s |\n",
              absl::StrFormat("%d actions x sleep %d ms on %d workers: wall vs ideal", nactions,
                              sleep_ms, nworkers).c_str(),
              absl::StrFormat("%.2f s vs %.2f s = %.0f%%", wall, ideal, 100 * ideal / wall).c_str(),
              ">= 90%");
  std::printf("| %-58s | %-24s | %-16s |\n",
              "  per action: run (spawn to reap, mean), then gap to next",
              absl::StrFormat("%.1f ms, %.2f ms (median)", rounds.run_ms, rounds.gap_ms).c_str(),
              absl::StrFormat("%d ms, 0", sleep_ms).c_str());
  std::printf("| %-58s | %-24s | %-16s |\n", "  CPU per action: scheduler, workers, client; the action",
              absl::StrFormat("%.0f, %.0f, %.0f; %.0f us", 1e6 * sim_sched / nactions,
                              1e6 * sim_workers / nactions, 1e6 * sim_client / nactions,
                              1e6 * sim_actions / nactions).c_str(),
              "");
  for (auto [n, t, cpu] : growth) {
    std::printf("| %-58s | %-24s | %-16s |\n",
                absl::StrFormat("%d distinct trivial actions: wall, scheduler CPU", n).c_str(),
                absl::StrFormat("%.2f s, %.2f s (%.0f us/action)", t, cpu, 1e6 * cpu / n).c_str(),
                "linear");
  }
  for (auto [on, bytes] : affinity) {
    std::printf("| %-58s | %-24s | %-16s |\n",
                absl::StrFormat("bytes fetched by 8 workers, 40 actions sharing 2 MiB, affinity %s",
                                on ? "on" : "off").c_str(),
                absl::StrFormat("%.1f MiB", bytes / 1048576.0).c_str(), "on < off");
  }
  std::printf("| %-58s | %-24d | %-16s |\n", "failed executions", failures, "0");
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kfarm::Run();
}
