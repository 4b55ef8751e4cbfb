// The worker side of the scheduler: one bidirectional stream per worker (workers dial in), on
// gRPC's callback API. Reads feed the BuildQueue on the thread that read them (a completion
// frees its slot and the next action goes out at once); a result the action cache keeps is
// written on an executor, off those threads, and the worker is told it was received once it is. The
// queue's messages go out through a per-worker outbox that never blocks it (one write in flight).
#ifndef KFARM_SCHEDULER_WORKER_SERVICE_H_
#define KFARM_SCHEDULER_WORKER_SERVICE_H_

#include "common/bounded_executor.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/authorizer.h"
#include "scheduler/build_queue.h"

namespace kfarm {

class WorkerService final : public worker::WorkerService::WithCallbackMethod_Connect<
                                worker::WorkerService::Service> {
 public:
  // `gate` decides who may connect as a worker; null on a listener that serves clients while
  // workers have a listener of their own (at `worker_address`). Drain takes `admin`.
  WorkerService(BuildQueue* queue, const WorkerGate* gate, const Authorizer* auth,
                std::string worker_address, BoundedExecutor* executor)
      : queue_(queue),
        gate_(gate),
        auth_(auth),
        worker_address_(std::move(worker_address)),
        executor_(executor) {}

  grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;
  grpc::Status Drain(grpc::ServerContext* ctx, const worker::DrainRequest* req,
                     worker::DrainResponse* resp) override;

 private:
  BuildQueue* queue_;
  const WorkerGate* gate_;
  const Authorizer* auth_;
  std::string worker_address_;
  BoundedExecutor* executor_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_WORKER_SERVICE_H_
