// The scheduler's memory under a stream of large actions: a real scheduler in this process,
// fake workers over loopback gRPC that complete each assignment at once, and actions that each
// carry a large input tree (about 100 KB of Directory messages) and a command line of their own.
// Finished operations stay queryable for completed_retention_ms (10 minutes by default), so
// without care every one of them would keep its whole input tree. RSS is read after each batch;
// the baseline is the RSS after the first batch, measured in the same run.
// Usage: memory_bench [--actions=10000] [--batch=1000]
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/instant_worker.h"
#include "common/digest.h"
#include "grpcpp/grpcpp.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/server.h"

ABSL_FLAG(int, actions, 10000, "Large actions, submitted in batches");
ABSL_FLAG(int, batch, 1000, "Actions per batch (RSS is read after each)");
ABSL_FLAG(int, workers, 8, "Fake workers");

namespace kfarm {
namespace {

double RssMiB() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// An action with 50 directories of 40 files each (names and digests: ~100 KB of protos) and a
// command line of its own, as a real compile or link of a large tree has.
// Bytes the allocator has handed out and not had back: what the scheduler really keeps, apart
// from pages glibc holds on to after frees (which RSS also counts).
double HeapInUseMiB() {
  const struct mallinfo2 info = mallinfo2();
  return (info.uordblks + info.hblkhd) / static_cast<double>(1 << 20);
}

ExecuteParams LargeAction(int i) {
  ExecuteParams p;
  const std::string out = absl::StrCat("out/obj", i, ".o");
  p.command.add_arguments("cc");
  p.command.add_arguments(absl::StrCat("-DUNIQUE=", i, " ", std::string(4000, 'f')));
  p.command.add_output_paths(out);
  p.action.set_do_not_cache(true);
  p.action_digest = Digest::Of(absl::StrCat("action ", i));
  p.timeout = absl::Seconds(60);
  p.shape = absl::StrCat("cc ", i);
  for (int d = 0; d < 50; ++d) {
    reapi::Directory dir;
    for (int f = 0; f < 40; ++f) {
      auto* file = dir.add_files();
      file->set_name(absl::StrCat("include/subsystem", d, "/header_file_number_", f, ".h"));
      Digest::Of(absl::StrCat(i, "/", d, "/", f)).ToProto(file->mutable_digest());
    }
    p.input_directory_blobs.push_back(dir.SerializeAsString());
  }
  return p;
}

int Main() {
  const int actions = absl::GetFlag(FLAGS_actions);
  const int batch = absl::GetFlag(FLAGS_batch);
  config::SchedulerConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
  config.mutable_execution()->set_heartbeat_interval_ms(60000);
  auto server = SchedulerServer::Start(config);
  if (!server.ok()) {
    std::fprintf(stderr, "memory_bench: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  BuildQueue* queue = (*server)->queue();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = worker::WorkerService::NewStub(channel);
  std::atomic<int64_t> completed{0};
  std::vector<std::thread> fleet;
  for (int i = 0; i < absl::GetFlag(FLAGS_workers); ++i) {
    fleet.emplace_back(RunInstantWorker, stub.get(), i, 4, &completed);
  }
  double baseline = 0, last = 0, heap_baseline = 0, heap_last = 0;
  std::printf("memory: %d actions of ~100 KB input tree each, RSS after every %d\n", actions, batch);
  for (int done = 0; done < actions;) {
    const int n = std::min(batch, actions - done);
    for (int i = 0; i < n; ++i) {
      if (auto name = queue->Submit(LargeAction(done + i)); !name.ok()) {
        std::fprintf(stderr, "memory_bench: %s\n", std::string(name.status().message()).c_str());
        return 1;
      }
    }
    done += n;
    while (completed.load() < done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    last = RssMiB();
    heap_last = HeapInUseMiB();
    if (baseline == 0) baseline = last, heap_baseline = heap_last;
    std::printf("memory: %6d actions finished (all kept for GetOperation): RSS %.1f MiB, heap in "
                "use %.1f MiB\n", done, last, heap_last);
  }
  const double thousands = (actions - batch) / 1000.0;
  std::printf("memory: RSS %.1f MiB after the first %d, %.1f MiB after %d: %.2f MiB per 1000 more "
              "finished actions; heap in use %.1f -> %.1f MiB: %.2f MiB per 1000 (target: heap "
              "<= 10 MiB per 1000, a tenth of the ~100 MiB per 1000 that keeping each input tree "
              "costs)\n",
              baseline, batch, last, actions, (last - baseline) / thousands, heap_baseline,
              heap_last, (heap_last - heap_baseline) / thousands);
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
