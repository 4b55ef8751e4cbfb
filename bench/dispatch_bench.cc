// The scheduler's dispatch rate: a fleet of lightweight fake workers, in this process, speaking
// the real worker protocol to a real scheduler over loopback gRPC. Each fake worker completes an
// assignment the moment it arrives, so what is measured is the scheduler: queue choice, the
// assignment message, the completion (action cache write included) and the next choice.
// The queue is filled before the fleet connects, so the figure also shows that choosing the next
// action does not grow with the queue's length.
// Usage: dispatch_bench [--workers=256] [--slots=4] [--actions=100000]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/instant_worker.h"
#include "absl/synchronization/notification.h"
#include "common/digest.h"
#include "common/log.h"
#include "grpcpp/grpcpp.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/server.h"

ABSL_FLAG(int, workers, 256, "Fake workers, one stream each");
ABSL_FLAG(int, slots, 4, "Slots per fake worker");
ABSL_FLAG(int, actions, 100000, "Actions queued before the fleet connects");
ABSL_FLAG(int, channels, 8, "TCP connections the fleet's streams are spread over");
ABSL_FLAG(int, builds, 4, "Distinct tool_invocation_ids (fair share is computed per build)");

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

int Main() {
  const int workers = absl::GetFlag(FLAGS_workers);
  const int slots = absl::GetFlag(FLAGS_slots);
  const int actions = absl::GetFlag(FLAGS_actions);
  const int builds = absl::GetFlag(FLAGS_builds);

  config::SchedulerConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
  config.mutable_execution()->set_heartbeat_interval_ms(60000);
  config.mutable_execution()->set_max_pending_operations_per_principal(actions + 1);
  auto server = SchedulerServer::Start(config);
  if (!server.ok()) {
    std::fprintf(stderr, "dispatch_bench: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  BuildQueue* queue = (*server)->queue();

  std::vector<ExecuteParams> params;
  params.reserve(actions);
  for (int i = 0; i < actions; ++i) params.push_back(FakeAction(i, builds));
  auto t0 = Clock::now();
  for (auto& p : params) {
    if (auto name = queue->Submit(std::move(p)); !name.ok()) {
      std::fprintf(stderr, "dispatch_bench: %s\n", std::string(name.status().message()).c_str());
      return 1;
    }
  }
  const double submit_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<worker::WorkerService::Stub>> stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("kfarm.bench.connection", i);  // A distinct argument: a connection of its own.
    channels.push_back(grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                                 grpc::InsecureChannelCredentials(), args));
    stubs.push_back(worker::WorkerService::NewStub(channels.back()));
  }
  std::atomic<int64_t> completed{0};
  auto t1 = Clock::now();
  std::vector<std::thread> fleet;
  for (int i = 0; i < workers; ++i) {
    fleet.emplace_back(RunInstantWorker, stubs[i % stubs.size()].get(), i, slots, &completed);
  }
  while (completed.load() < actions) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double run_s = std::chrono::duration<double>(Clock::now() - t1).count();

  std::printf("dispatch: %d actions queued in %.2f s (%.0f submits/s)\n", actions, submit_s,
              actions / submit_s);
  std::printf("dispatch: %d fake workers x %d slots: %d assignments completed in %.2f s = "
              "%.0f assignments/s (target >= 20000)\n",
              workers, slots, actions, run_s, actions / run_s);
  (*server)->Shutdown();
  for (auto& t : fleet) t.join();
  return 0;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kfarm::Main();
}
