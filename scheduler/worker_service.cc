#include "scheduler/worker_service.h"

#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"

namespace kfarm {
namespace {

using Stream = grpc::ServerReaderWriter<worker::SchedulerMessage, worker::WorkerMessage>;

class StreamLink : public WorkerLink {
 public:
  StreamLink(grpc::ServerContext* ctx, Stream* stream) : ctx_(ctx), stream_(stream) {
    sender_ = std::thread([this] { SendLoop(); });
  }
  ~StreamLink() override { Stop(); }

  void Send(const worker::SchedulerMessage& msg) override {
    absl::MutexLock lock(&mu_);
    outbox_.push_back(msg);
  }
  void Close() override { ctx_->TryCancel(); }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (sender_.joinable()) sender_.join();
  }

 private:
  void SendLoop() {
    for (;;) {
      worker::SchedulerMessage msg;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !outbox_.empty();
        };
        mu_.Await(absl::Condition(&ready));
        if (outbox_.empty()) return;
        msg = std::move(outbox_.front());
        outbox_.pop_front();
      }
      if (!stream_->Write(msg)) {
        ctx_->TryCancel();
        absl::MutexLock lock(&mu_);
        stopping_ = true;
        outbox_.clear();
        return;
      }
    }
  }

  grpc::ServerContext* ctx_;
  Stream* stream_;
  absl::Mutex mu_;
  std::deque<worker::SchedulerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sender_;
};

}  // namespace

grpc::Status WorkerService::Connect(grpc::ServerContext* ctx, Stream* stream) {
  worker::WorkerMessage first;
  if (!stream->Read(&first) || !first.has_register_()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message on a worker stream must be Register");
  }
  const std::string id = first.register_().worker_id();
  auto link = std::make_shared<StreamLink>(ctx, stream);
  absl::Status s = queue_->Connected(first.register_(), link);
  if (!s.ok()) {
    link->Stop();
    return ToGrpcStatus(s);
  }
  worker::WorkerMessage msg;
  while (stream->Read(&msg)) queue_->Received(id, msg);
  queue_->Disconnected(id, link.get());
  link->Stop();
  return grpc::Status::OK;
}

grpc::Status WorkerService::Drain(grpc::ServerContext*, const worker::DrainRequest* req,
                                  worker::DrainResponse*) {
  return ToGrpcStatus(queue_->Drain(req->worker_id()));
}

}  // namespace kfarm
