// The stream behind Execute and WaitExecution: writes the operation each time the BuildQueue
// says it changed (and once per keepalive interval), and finishes with the done one. It runs on
// gRPC's callback threads, so thousands of waiting clients hold no thread each, and a worker's
// completion reaches its client on the thread that read it.
#ifndef KFARM_SCHEDULER_OPERATION_STREAM_H_
#define KFARM_SCHEDULER_OPERATION_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "google/longrunning/operations.pb.h"
#include "scheduler/build_queue.h"

namespace kfarm {

google::longrunning::Operation ToOperation(const OperationView& v);

using OperationWriter = grpc::ServerWriteReactor<google::longrunning::Operation>;

class OperationStream : public OperationWriter,
                        public OperationWatcher,
                        public std::enable_shared_from_this<OperationStream> {
 public:
  // Streams operation `name`; the reactor owns itself until gRPC is done with it.
  static OperationWriter* Start(BuildQueue* queue, std::string name);
  // A stream whose operation is still being prepared (off gRPC's threads): Attach or Conclude
  // it once known. If the client went away meanwhile, either does nothing.
  static std::shared_ptr<OperationStream> Pending(BuildQueue* queue);
  // Streams operation `name` from now on.
  void Attach(std::string name);
  // Writes `op`, if given, then finishes with `status`.
  void Conclude(std::optional<google::longrunning::Operation> op, grpc::Status status);
  // Writes `op`, if given, then finishes with `status`.
  static OperationWriter* Finished(std::optional<google::longrunning::Operation> op,
                                   grpc::Status status);

  explicit OperationStream(BuildQueue* queue) : queue_(queue) {}

  void OperationChanged(bool keepalive) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Runs by the one holder of writing_: writes the newest view, or finishes, or lets go.
  void Pump();
  void FinishOnce(grpc::Status status);

  std::string name() {
    absl::MutexLock lock(&mu_);
    return name_;
  }

  BuildQueue* const queue_;
  std::shared_ptr<OperationStream> self_;  // Dropped in OnDone.

  absl::Mutex mu_;
  std::string name_ ABSL_GUARDED_BY(mu_);      // Empty until attached.
  bool done_ ABSL_GUARDED_BY(mu_) = false;     // OnDone ran: gRPC is finished with it.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // Someone is in Pump or a write is in flight.
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;    // A change not yet looked at.
  bool keepalive_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Owned by the writing_ holder.
  bool sent_any_ = false;
  uint64_t sent_version_ = 0;
  google::longrunning::Operation op_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_OPERATION_STREAM_H_
