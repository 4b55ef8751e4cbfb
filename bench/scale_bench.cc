// Scheduling at scale on this machine, with real processes over loopback:
//  1. scale simulation: W worker processes, N actions that each sleep S ms; wall time against a
//     local pool running the very same commands W at a time on the same cores (the baseline,
//     alternated with the farm's runs) and against the ideal N*S/W;
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
#include "common/spawn.h"
#include "google/protobuf/util/time_util.h"

ABSL_FLAG(int, workers, 64, "Worker processes (1 slot each)");
ABSL_FLAG(int, actions, 2000, "Actions in the scale simulation");
ABSL_FLAG(int, sleep_ms, 50, "What each simulated action sleeps");
ABSL_FLAG(std::vector<std::string>, growth, (std::vector<std::string>{"1000", "2000", "4000"}),
          "Action counts for growth");
ABSL_FLAG(int, clients, 256, "Concurrent client streams");
ABSL_FLAG(int, repeats, 3, "Runs of the simulation and of the local pool, alternated");

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

// The baseline: the simulation's commands, with the same environment, run here `width` at a time
// by the same spawn the workers use, and waited for. Returns the wall time.
double RunLocalPool(const std::vector<std::vector<std::string>>& commands, int width) {
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < width; ++i) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < commands.size();) {
        SpawnOptions o;
        o.argv = {commands[k][0], commands[k][1]};
        o.set_env = true;
        o.env = {commands[k][2], "PATH=/usr/bin:/bin"};
        absl::StatusOr<pid_t> pid = Spawn(o);
        int status;
        if (pid.ok()) waitpid(*pid, &status, 0);
      }
    });
  }
  for (auto& t : pool) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Spread(std::vector<double> v, const char* unit, double scale = 1) {
  std::sort(v.begin(), v.end());
  const double median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return absl::StrFormat("%.2f%s (%.2f–%.2f)", median * scale, unit, v.front() * scale,
                         v.back() * scale);
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
  std::fprintf(stderr, "scale_bench: simulation starting\n");  // For profilers to attach.
  std::vector<reapi::ExecutedActionMetadata> timeline;
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  std::vector<double> walls, pool_walls, ratios;
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < nactions; ++i) {
    commands.push_back({"/bin/sleep", absl::StrFormat("%.3f", sleep_ms / 1000.0),
                        absl::StrCat("MODULE=sim-", i)});
  }
  double sim_sched = 0, sim_workers = 0, sim_actions = 0, sim_client = 0;
  for (int r = 0; r < repeats; ++r) {
    const double s0 = CpuSeconds(farm->scheduler), w0 = workers_cpu(false);
    const double a0 = workers_cpu(true), c0 = CpuSeconds(getpid());
    timeline.clear();
    walls.push_back(RunAll(address, sim, clients, &failures, &timeline));
    sim_sched += CpuSeconds(farm->scheduler) - s0;
    const double w = workers_cpu(false) - w0;
    sim_workers += w;
    sim_actions += workers_cpu(true) - a0 - w;
    sim_client += CpuSeconds(getpid()) - c0;
    pool_walls.push_back(RunLocalPool(commands, nworkers));
    ratios.push_back(walls.back() / pool_walls.back());
  }
  sim_sched /= repeats, sim_workers /= repeats, sim_actions /= repeats, sim_client /= repeats;
  const RoundTimes rounds = Rounds(timeline);
  std::vector<double> sorted_walls = walls;
  std::sort(sorted_walls.begin(), sorted_walls.end());
  const double wall = sorted_walls[sorted_walls.size() / 2];
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
              absl::StrFormat("  same on a local pool, %d at a time (baseline): wall", nworkers).c_str(),
              Spread(pool_walls, " s").c_str(), "");
  std::printf("| %-58s | %-24s | %-16s |\n", "  farm / local pool, run by run",
              Spread(ratios, "×").c_str(), "<= 1.10×");
  std::printf("| %-58s | %-24s | %-16s |\n", "  farm wall, every run", Spread(walls, " s").c_str(),
              "");
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
  std::printf("\nraw scale_farm_s");  // Run by run, for bench/summarize.py.
  for (double w : walls) std::printf(" %.3f", w);
  std::printf("\nraw scale_pool_s");
  for (double w : pool_walls) std::printf(" %.3f", w);
  std::printf("\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kfarm::Run();
}
