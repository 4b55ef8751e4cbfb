// A fake worker for benchmarks of the scheduler alone: it registers over the real worker protocol,
// then completes every assignment at once, so what is measured is dispatch and bookkeeping, not
// process creation.
#ifndef KFARM_BENCH_INSTANT_WORKER_H_
#define KFARM_BENCH_INSTANT_WORKER_H_

#include <atomic>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "kfarm/worker.grpc.pb.h"

namespace kfarm {

// Runs until the scheduler ends the stream; counts completions in `completed`.
inline void RunInstantWorker(worker::WorkerService::Stub* stub, int index, int slots,
                             std::atomic<int64_t>* completed) {
  grpc::ClientContext ctx;
  auto stream = stub->Connect(&ctx);
  worker::WorkerMessage reg;
  reg.mutable_register_()->set_worker_id(absl::StrCat("fake-", index));
  reg.mutable_register_()->set_slots(slots);
  if (!stream->Write(reg)) return;
  worker::SchedulerMessage in;
  worker::WorkerMessage out;
  auto* c = out.mutable_completion();
  c->mutable_response()->mutable_result()->mutable_execution_metadata()->set_worker(
      absl::StrCat("fake-", index));
  while (stream->Read(&in)) {
    if (!in.has_assignment()) continue;
    c->set_execution_id(in.assignment().execution_id());
    if (!stream->Write(out)) break;
    completed->fetch_add(1, std::memory_order_relaxed);
  }
  stream->Finish().IgnoreError();
}

}  // namespace kfarm

#endif  // KFARM_BENCH_INSTANT_WORKER_H_
