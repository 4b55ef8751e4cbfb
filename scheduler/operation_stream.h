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

class OperationStream : public OperationWriter, public OperationWatcher {
 public:
  // Streams operation `name`; the reactor owns itself until gRPC is done with it.
  static OperationWriter* Start(BuildQueue* queue, std::string name);
  // Writes `op`, if given, then finishes with `status`.
  static OperationWriter* Finished(std::optional<google::longrunning::Operation> op,
                                   grpc::Status status);

  OperationStream(BuildQueue* queue, std::string name) : queue_(queue), name_(std::move(name)) {}

  void OperationChanged(bool keepalive) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Runs by the one holder of writing_: writes the newest view, or finishes, or lets go.
  void Pump();
  void FinishOnce(grpc::Status status);

  BuildQueue* const queue_;
  const std::string name_;
  std::shared_ptr<OperationStream> self_;  // Dropped in OnDone.

  absl::Mutex mu_;
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
