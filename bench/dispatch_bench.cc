// The scheduler's dispatch rate, against a bare gRPC loop on the same streams. A fleet of
// lightweight fake workers, in a child process of its own, speaks the real worker protocol over
// loopback, completing each assignment the moment it arrives. It runs alternately against
//  - kfarm: a real scheduler whose queue was filled first (so choosing the next action is shown
//    not to grow with the queue), with fair share over several builds and action-cache writes;
//  - queue: the same scheduler's queue driven in this process through fake links, no gRPC at
//    all: kfarm's own bookkeeping per assignment;
//  - bare: a server that answers each completion with a prebuilt assignment and does nothing
//    else (bench/bare_worker_server.h), the floor for one message each way per action.
// Both sides share the 2 cores with the fleet, so each run reports its rate and the server
// process's own CPU per assignment; the ratio to the bare loop is what holds across machines.
// Usage: dispatch_bench [--workers=256] [--slots=4] [--actions=100000] [--repeats=3]
//                       [--side=all|kfarm|queue|bare]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/bare_worker_server.h"
#include "bench/instant_worker.h"
#include "common/child_process.h"
#include "common/process_init.h"
#include "common/digest.h"
#include "grpcpp/grpcpp.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/server.h"

ABSL_FLAG(int, workers, 256, "Fake workers, one stream each");
ABSL_FLAG(int, slots, 4, "Slots per fake worker");
ABSL_FLAG(int, actions, 100000, "Actions per run (queued before the fleet connects)");
ABSL_FLAG(int, channels, 8, "TCP connections the fleet's streams are spread over");
ABSL_FLAG(int, builds, 4, "Distinct tool_invocation_ids (fair share is computed per build)");
ABSL_FLAG(int, repeats, 3, "Runs of each side, alternated");
ABSL_FLAG(std::string, side, "all", "kfarm, queue, bare, or all");
ABSL_FLAG(int, fleet_port, 0, "Internal: run as the fleet against 127.0.0.1:PORT");
ABSL_FLAG(std::string, fleet_result, "", "Internal: where the fleet writes its seconds");

namespace kfarm {
namespace {

using Clock = std::chrono::steady_clock;

ExecuteParams FakeAction(int i, int builds) {
  ExecuteParams p;
  const std::string name = absl::StrCat("drivers/fake/mod", i, ".ko");
  p.command.add_arguments("ld");
  p.command.add_arguments("-r");
  p.command.add_arguments("-o");
  p.command.add_arguments(name);
  p.command.add_output_paths(name);
  p.action.set_do_not_cache(false);
  p.action_digest = Digest::Of(p.command.SerializeAsString());
  p.timeout = absl::Seconds(60);
  p.invocation_id = absl::StrCat("build-", i % builds);
  p.shape = absl::StrCat("ld -r -o ", name);
  return p;
}

// The assignment kfarm would send for FakeAction(i): what the bare loop sends every time.
worker::SchedulerMessage BareAssignment(int i) {
  ExecuteParams p = FakeAction(i, 1);
  worker::SchedulerMessage m;
  auto* a = m.mutable_assignment();
  a->set_execution_id(absl::StrCat("0123456789abcdef0123456789abcdef.", i));
  p.action_digest.ToProto(a->mutable_action_digest());
  *a->mutable_action() = p.action;
  *a->mutable_command() = p.command;
  a->mutable_timeout()->set_seconds(60);
  a->mutable_queued_timestamp()->set_seconds(1765000000);
  return m;
}

// The child: connects the fleet, runs it until `actions` completions are written, reports.
int FleetMain(int port) {
  const int workers = absl::GetFlag(FLAGS_workers);
  const int64_t actions = absl::GetFlag(FLAGS_actions);
  std::vector<std::unique_ptr<worker::WorkerService::Stub>> stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("kfarm.bench.connection", i);  // A distinct argument: a connection of its own.
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                             grpc::InsecureChannelCredentials(), args);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stubs.push_back(worker::WorkerService::NewStub(channel));
  }
  std::atomic<int64_t> completed{0};
  const auto t0 = Clock::now();
  for (int i = 0; i < workers; ++i) {
    std::thread(RunInstantWorker, stubs[i % stubs.size()].get(), i, absl::GetFlag(FLAGS_slots),
                &completed)
        .detach();
  }
  while (completed.load() < actions) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::ofstream(absl::GetFlag(FLAGS_fleet_result))
      << std::chrono::duration<double>(Clock::now() - t0).count() << "\n";
  std::_Exit(0);  // The streams die with the process; the server sees them end.
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Run {
  double rate = 0;     // Assignments per second.
  double cpu_us = 0;   // The server process's CPU per assignment.
};

// Starts the fleet against `port` and waits for it; the server's CPU is this process's.
absl::StatusOr<Run> RunFleet(int port) {
  const int64_t actions = absl::GetFlag(FLAGS_actions);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return absl::InternalError("cannot read /proc/self/exe");
  exe[n] = '\0';
  const std::string result = absl::StrCat("/tmp/kfarm-dispatch-bench.", getpid());
  const double cpu0 = CpuSeconds();
  pid_t pid = StartTiedChild(
      {exe, absl::StrCat("--fleet_port=", port), absl::StrCat("--fleet_result=", result),
       absl::StrCat("--workers=", absl::GetFlag(FLAGS_workers)),
       absl::StrCat("--slots=", absl::GetFlag(FLAGS_slots)),
       absl::StrCat("--channels=", absl::GetFlag(FLAGS_channels)),
       absl::StrCat("--actions=", actions)});
  if (pid < 0) return absl::InternalError("cannot start the fleet");
  int status = 0;
  waitpid(pid, &status, 0);
  const double cpu = CpuSeconds() - cpu0;
  double seconds = 0;
  std::ifstream(result) >> seconds;
  unlink(result.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || seconds <= 0) {
    return absl::InternalError(absl::StrCat("the fleet failed (wait status ", status, ")"));
  }
  return Run{actions / seconds, cpu / actions * 1e6};
}

// A scheduler in this process, its queue filled with --actions before any worker connects.
absl::StatusOr<std::unique_ptr<SchedulerServer>> StartFilledScheduler() {
  const int actions = absl::GetFlag(FLAGS_actions);
  config::SchedulerConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
  config.mutable_execution()->set_heartbeat_interval_ms(60000);
  config.mutable_execution()->set_max_pending_operations_per_principal(actions + 1);
  auto server = SchedulerServer::Start(config);
  if (!server.ok()) return server.status();
  for (int i = 0; i < actions; ++i) {
    if (auto name = (*server)->queue()->Submit(FakeAction(i, absl::GetFlag(FLAGS_builds)));
        !name.ok()) {
      return name.status();
    }
  }
  return server;
}

absl::StatusOr<Run> RunKfarm() {
  auto server = StartFilledScheduler();
  if (!server.ok()) return server.status();
  absl::StatusOr<Run> run = RunFleet((*server)->port());
  (*server)->Shutdown();
  return run;
}

// A worker link that hands each assignment to the driving loop.
class LoopLink : public WorkerLink {
 public:
  LoopLink(std::string worker, std::deque<std::pair<std::string, std::string>>* out)
      : worker_(std::move(worker)), out_(out) {}
  void Send(worker::SchedulerMessage msg) override {
    if (msg.has_assignment()) out_->emplace_back(worker_, msg.assignment().execution_id());
  }
  void Close() override {}

 private:
  const std::string worker_;
  std::deque<std::pair<std::string, std::string>>* const out_;
};

absl::StatusOr<Run> RunQueue() {
  const int actions = absl::GetFlag(FLAGS_actions);
  auto server = StartFilledScheduler();
  if (!server.ok()) return server.status();
  BuildQueue* queue = (*server)->queue();
  std::deque<std::pair<std::string, std::string>> assigned;  // One thread: no lock needed.
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int i = 0; i < absl::GetFlag(FLAGS_workers); ++i) {
    worker::Register reg;
    reg.set_worker_id(absl::StrCat("fake-", i));
    reg.set_slots(absl::GetFlag(FLAGS_slots));
    if (absl::Status s = queue->Connected(reg, std::make_shared<LoopLink>(reg.worker_id(), &assigned));
        !s.ok()) {
      return s;
    }
  }
  worker::WorkerMessage done;
  auto* c = done.mutable_completion();
  int64_t completed = 0;
  while (!assigned.empty()) {
    auto [worker, id] = std::move(assigned.front());
    assigned.pop_front();
    c->set_execution_id(id);
    c->mutable_response()->mutable_result()->mutable_execution_metadata()->set_worker(worker);
    queue->Received(worker, done);
    ++completed;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  (*server)->Shutdown();
  if (completed != actions) {
    return absl::InternalError(absl::StrCat("the queue assigned ", completed, " of ", actions));
  }
  return Run{actions / seconds, cpu / actions * 1e6};
}

absl::StatusOr<Run> RunBare() {
  BareWorkerService service(BareAssignment(0), absl::GetFlag(FLAGS_actions));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::InternalError("the bare server did not start");
  absl::StatusOr<Run> run = RunFleet(port);
  server->Shutdown(std::chrono::system_clock::now());
  return run;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// "median (min–max)" of a side's runs, rates or CPU.
std::string Spread(const std::vector<double>& v, const char* format) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  char buf[128];
  std::string f = absl::StrCat(format, " (", format, "–", format, ")");
  std::snprintf(buf, sizeof(buf), f.c_str(), Median(v), *lo, *hi);
  return buf;
}

int Main() {
  const std::string side = absl::GetFlag(FLAGS_side);
  const char* const sides[] = {"kfarm", "bare", "queue"};
  const char* const labels[] = {"kfarm scheduler", "bare gRPC loop", "kfarm's queue alone, no gRPC"};
  std::vector<double> rate[3], cpu[3];
  for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
    for (int s = 0; s < 3; ++s) {
      if (side != "all" && side != sides[s]) continue;
      absl::StatusOr<Run> run = s == 0 ? RunKfarm() : s == 1 ? RunBare() : RunQueue();
      if (!run.ok()) {
        std::fprintf(stderr, "dispatch_bench: %s\n", std::string(run.status().message()).c_str());
        return 1;
      }
      std::printf("dispatch: run %d, %s: %.0f assignments/s, server CPU %.1f us per assignment\n",
                  r + 1, labels[s], run->rate, run->cpu_us);
      std::fflush(stdout);
      rate[s].push_back(run->rate);
      cpu[s].push_back(run->cpu_us);
    }
  }
  std::printf("\n| dispatch, %d fake workers x %d slots, %d actions | assignments/s, median (min–max) "
              "| server CPU per assignment, us |\n| --- | --- | --- |\n",
              absl::GetFlag(FLAGS_workers), absl::GetFlag(FLAGS_slots),
              absl::GetFlag(FLAGS_actions));
  for (int s = 0; s < 3; ++s) {
    if (rate[s].empty()) continue;
    std::printf("| %s | %s | %s |\n", labels[s], Spread(rate[s], "%.0f").c_str(),
                Spread(cpu[s], "%.1f").c_str());
  }
  if (!rate[0].empty() && !rate[1].empty()) {
    std::vector<double> ratio;  // Run by run: each kfarm run against the bare run beside it.
    for (size_t i = 0; i < std::min(rate[0].size(), rate[1].size()); ++i) {
      ratio.push_back(rate[0][i] / rate[1][i]);
    }
    std::printf("| kfarm / bare | %s | %.2f× |\n", Spread(ratio, "%.2f").c_str(),
                Median(cpu[0]) / Median(cpu[1]));
  }
  std::printf("\n");
  for (int s = 0; s < 3; ++s) {  // Run by run, for bench/summarize.py.
    if (rate[s].empty()) continue;
    std::printf("raw dispatch_%s_rate", sides[s]);
    for (double r : rate[s]) std::printf(" %.0f", r);
    std::printf("\nraw dispatch_%s_cpu_us", sides[s]);
    for (double c : cpu[s]) std::printf(" %.2f", c);
    std::printf("\n");
  }
  return 0;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Configured as the scheduler's and the worker's mains configure theirs: without it, Debian's
  // Abseil checks lock order on every Mutex acquisition, which no production process does.
  kfarm::InitServerProcess();
  if (int port = absl::GetFlag(FLAGS_fleet_port); port != 0) return kfarm::FleetMain(port);
  return kfarm::Main();
}
