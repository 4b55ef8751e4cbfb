// The dispatch benchmark's baseline: a gRPC server speaking the worker protocol with nothing
// behind it. Each fake worker gets `slots` assignments on registering and one more for every
// completion it sends, until `total` are out: one message each way per action, the least any
// scheduler could do over the same streams. The assignment is prebuilt, as large as kfarm's.
#ifndef KFARM_BENCH_BARE_WORKER_SERVER_H_
#define KFARM_BENCH_BARE_WORKER_SERVER_H_

#include <atomic>
#include <deque>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "kfarm/worker.grpc.pb.h"

namespace kfarm {

class BareWorkerService final : public worker::WorkerService::CallbackService {
 public:
  BareWorkerService(worker::SchedulerMessage assignment, int64_t total)
      : assignment_(std::move(assignment)), left_(total) {}

  grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage>* Connect(
      grpc::CallbackServerContext*) override {
    return new Stream(this);
  }

 private:
  class Stream : public grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage> {
   public:
    explicit Stream(BareWorkerService* service) : service_(service) { StartRead(&in_); }

    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      const int n = in_.has_register_() ? in_.register_().slots() : in_.has_completion() ? 1 : 0;
      for (int i = 0; i < n && service_->left_.fetch_sub(1) > 0; ++i) Send();
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      {
        absl::MutexLock lock(&mu_);
        if (!ok || --queued_ == 0) return;
      }
      StartWrite(&service_->assignment_);
    }
    void OnDone() override { delete this; }

   private:
    void Send() {
      {
        absl::MutexLock lock(&mu_);
        if (queued_++ > 0) return;  // OnWriteDone starts it.
      }
      StartWrite(&service_->assignment_);
    }

    BareWorkerService* const service_;
    worker::WorkerMessage in_;
    absl::Mutex mu_;
    int queued_ ABSL_GUARDED_BY(mu_) = 0;  // Writes wanted, the one in flight included.
  };

  const worker::SchedulerMessage assignment_;
  std::atomic<int64_t> left_;
};

}  // namespace kfarm

#endif  // KFARM_BENCH_BARE_WORKER_SERVER_H_
