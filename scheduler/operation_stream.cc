#include "scheduler/operation_stream.h"

#include "common/grpc_status.h"

namespace kfarm {
namespace {

using google::longrunning::Operation;

// A stream decided before it starts: an error, or a cached result.
class FinishedStream : public OperationWriter {
 public:
  FinishedStream(std::optional<Operation> op, grpc::Status status) : op_(std::move(op)) {
    if (op_) {
      StartWriteAndFinish(&*op_, grpc::WriteOptions(), std::move(status));
    } else {
      Finish(std::move(status));
    }
  }
  void OnDone() override { delete this; }

 private:
  std::optional<Operation> op_;
};

}  // namespace

Operation ToOperation(const OperationView& v) {
  Operation op;
  op.set_name(v.name);
  reapi::ExecuteOperationMetadata md;
  md.set_stage(v.stage);
  v.action_digest.ToProto(md.mutable_action_digest());
  md.set_digest_function(reapi::DigestFunction::SHA256);
  op.mutable_metadata()->PackFrom(md);
  op.set_done(v.done);
  if (v.done) op.mutable_response()->PackFrom(v.response);
  return op;
}

OperationWriter* OperationStream::Finished(std::optional<Operation> op, grpc::Status status) {
  return new FinishedStream(std::move(op), std::move(status));
}

OperationWriter* OperationStream::Start(BuildQueue* queue, std::string name) {
  std::shared_ptr<OperationStream> stream = Pending(queue);
  stream->Attach(std::move(name));
  return stream.get();
}

std::shared_ptr<OperationStream> OperationStream::Pending(BuildQueue* queue) {
  auto stream = std::make_shared<OperationStream>(queue);
  stream->self_ = stream;
  return stream;
}

void OperationStream::Attach(std::string name) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;  // The client left while the operation was prepared.
    name_ = name;
  }
  absl::Status watched = queue_->Watch(name, shared_from_this());
  if (!watched.ok()) {
    FinishOnce(ToGrpcStatus(watched));
    return;
  }
  bool gone;
  {
    absl::MutexLock lock(&mu_);
    gone = done_;
  }
  // OnDone ran between naming and watching: its Unwatch found nothing, so undo the watch here,
  // or the operation would count as watched (never abandoned) with nobody left to wait.
  if (gone) {
    queue_->Unwatch(name, this);
    return;
  }
  OperationChanged(/*keepalive=*/false);  // The first write: where it stands now.
}

void OperationStream::Conclude(std::optional<Operation> op, grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    if (op) op_ = std::move(*op);
  }
  if (op) {
    StartWriteAndFinish(&op_, grpc::WriteOptions(), std::move(status));
  } else {
    Finish(std::move(status));
  }
}

void OperationStream::OperationChanged(bool keepalive) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    dirty_ = true;
    keepalive_ |= keepalive;
    if (writing_) return;  // The holder looks again when its write is done.
    writing_ = true;
  }
  Pump();
}

void OperationStream::Pump() {
  for (;;) {
    bool keepalive = false, cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || !dirty_ || cancelled_) {
        writing_ = false;
        cancelled = cancelled_ && !finished_;
        finished_ |= cancelled;
        if (!cancelled) return;
      }
      dirty_ = false;
      keepalive = keepalive_;
      keepalive_ = false;
    }
    if (cancelled) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    auto v = queue_->Get(name());
    if (!v.ok()) {
      FinishOnce(ToGrpcStatus(v.status()));
      return;
    }
    if (sent_any_ && v->version == sent_version_ && !v->done && !keepalive) continue;
    sent_any_ = true;
    sent_version_ = v->version;
    op_ = ToOperation(*v);
    if (v->done) {
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      StartWriteAndFinish(&op_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    StartWrite(&op_);  // OnWriteDone goes on from here.
    return;
  }
}

void OperationStream::FinishOnce(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  Finish(std::move(status));
}

void OperationStream::OnWriteDone(bool ok) {
  if (!ok) {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    return;
  }
  Pump();
}

void OperationStream::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (writing_ || finished_) return;  // The holder sees it (a failed write, at worst).
    writing_ = true;
  }
  Pump();
}

void OperationStream::OnDone() {
  std::string name;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    name = name_;
  }
  if (!name.empty()) queue_->Unwatch(name, this);
  std::shared_ptr<OperationStream> last = std::move(self_);  // May delete this on return.
}

}  // namespace kfarm
