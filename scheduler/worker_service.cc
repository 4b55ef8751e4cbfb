#include "scheduler/worker_service.h"

#include <algorithm>
#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"

namespace kfarm {
namespace {

class WorkerStream : public grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage>,
                     public WorkerLink {
 public:
  WorkerStream(grpc::CallbackServerContext* ctx, BuildQueue* queue, BoundedExecutor* executor)
      : ctx_(ctx), queue_(queue), executor_(executor) {}

  static WorkerStream* Start(grpc::CallbackServerContext* ctx, BuildQueue* queue,
                             BoundedExecutor* executor) {
    auto stream = std::make_shared<WorkerStream>(ctx, queue, executor);
    stream->self_ = stream;
    stream->StartRead(&stream->in_);
    return stream.get();
  }

  // Queues the message, or starts the one write.
  void Send(worker::SchedulerMessage msg) override {
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return;
      if (msg.has_assignment()) ++unanswered_;
      if (writing_) {
        outbox_.push_back(std::move(msg));
        return;
      }
      writing_ = true;
      out_ = std::move(msg);
      TakeAcknowledgementsLocked(&out_);
    }
    StartWrite(&out_);
  }

  // Tells the worker its completion of `execution_id` is recorded. The word rides on the next
  // message to the worker when one is sure to come: a write is in flight, or the worker still
  // holds an assignment, whose completion will be answered in turn. Only a worker with nothing
  // left gets it alone, at once. Under load that halves the messages down the stream (one
  // assignment per completion instead of an assignment and an acknowledgement); a worker
  // holds its completions a little longer, which costs it nothing.
  void Acknowledge(const std::string& execution_id) {
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return;
      acks_.push_back(execution_id);
      if (writing_ || unanswered_ > 0) return;
      writing_ = true;
      out_.Clear();
      TakeAcknowledgementsLocked(&out_);
    }
    StartWrite(&out_);
  }

  void Close() override {
    absl::MutexLock lock(&close_mu_);  // The context lives until OnDone.
    if (!done_) ctx_->TryCancel();
  }

  void OnWriteDone(bool ok) override {
    bool more;
    {
      absl::MutexLock lock(&mu_);
      broken_ |= !ok;
      more = !broken_ && (!outbox_.empty() || !acks_.empty());
      if (more) {
        if (outbox_.empty()) {
          out_.Clear();  // Acknowledgements alone.
        } else {
          out_ = std::move(outbox_.front());
          outbox_.pop_front();
        }
        TakeAcknowledgementsLocked(&out_);
      } else {
        outbox_.clear();
        writing_ = false;
      }
    }
    if (!ok) ctx_->TryCancel();  // The read side ends too, and with it the worker.
    if (more) StartWrite(&out_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      if (!id_.empty()) queue_->Disconnected(id_, this);
      {
        absl::MutexLock lock(&mu_);
        broken_ = true;
      }
      Finish(grpc::Status::OK);
      return;
    }
    if (id_.empty()) {
      absl::Status s = in_.has_register_()
                           ? queue_->Connected(in_.register_(), self_)
                           : absl::InvalidArgumentError(
                                 "the first message on a worker stream must be Register");
      if (!s.ok()) {
        {
          absl::MutexLock lock(&mu_);
          broken_ = true;
        }
        Finish(ToGrpcStatus(s));
        return;
      }
      id_ = in_.register_().worker_id();
    } else {
      if (in_.has_completion()) {
        absl::MutexLock lock(&mu_);
        unanswered_ = std::max(0, unanswered_ - 1);
      } else {
        FlushAcknowledgements();  // A worker whose completion went unmatched still hears.
      }
      std::optional<BuildQueue::PendingResult> result = queue_->Receive(id_, in_);
      if (in_.has_completion()) {
        const std::string& id = in_.completion().execution_id();
        if (!result) {
          Acknowledge(id);
        } else {
          // The action-cache write goes to disk: off gRPC's threads. The worker hears it was
          // received once it is written, and keeps the completion until then.
          auto self = self_;
          auto record = [self, result = std::move(*result), id]() mutable {
            self->queue_->Record(std::move(result));
            self->Acknowledge(id);
          };
          if (!executor_->TrySubmit(record)) record();  // Full: backpressure on this stream.
        }
      }
    }
    StartRead(&in_);
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&close_mu_);
      done_ = true;
    }
    std::shared_ptr<WorkerStream> last = std::move(self_);  // The queue may still hold a link.
  }

 private:
  // Sends the acknowledgements still waiting, if no write is in flight to carry them.
  void FlushAcknowledgements() {
    {
      absl::MutexLock lock(&mu_);
      if (broken_ || writing_ || acks_.empty()) return;
      writing_ = true;
      out_.Clear();
      TakeAcknowledgementsLocked(&out_);
    }
    StartWrite(&out_);
  }

  void TakeAcknowledgementsLocked(worker::SchedulerMessage* msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (std::string& id : acks_) msg->add_received(std::move(id));
    acks_.clear();
  }

  grpc::CallbackServerContext* const ctx_;
  BuildQueue* const queue_;
  BoundedExecutor* const executor_;
  std::shared_ptr<WorkerStream> self_;  // Dropped in OnDone.
  std::string id_;                       // Set by Register; reads are one at a time.
  worker::WorkerMessage in_;

  absl::Mutex mu_;
  std::deque<worker::SchedulerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> acks_ ABSL_GUARDED_BY(mu_);  // For the next message out.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Assignments sent whose completions have not been read: each will be answered.
  int unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  worker::SchedulerMessage out_;  // The write in flight.
  absl::Mutex close_mu_;
  bool done_ ABSL_GUARDED_BY(close_mu_) = false;
};


// A worker that may not join: refused before it reads a message, so it never registers and
// never sees an action or an input.
class RefusedStream
    : public grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<worker::WorkerMessage, worker::SchedulerMessage>* WorkerService::Connect(
    grpc::CallbackServerContext* ctx) {
  if (gate_ == nullptr) {
    return new RefusedStream(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("workers connect to the worker listener at ", worker_address_,
                     ", not to the client listener")));
  }
  if (absl::Status s = gate_->Check(*ctx); !s.ok()) {
    return new RefusedStream(ToGrpcStatus(s));
  }
  return WorkerStream::Start(ctx, queue_, executor_);
}

grpc::Status WorkerService::Drain(grpc::ServerContext* ctx, const worker::DrainRequest* req,
                                  worker::DrainResponse*) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::ADMIN));
  return ToGrpcStatus(queue_->Drain(req->worker_id()));
}

}  // namespace kfarm
