#include "scheduler/server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "scheduler/action_cache_service.h"
#include "scheduler/bytestream_service.h"
#include "scheduler/capabilities_service.h"
#include "scheduler/cas_service.h"
#include "scheduler/execution_service.h"
#include "scheduler/worker_service.h"

namespace kfarm {

absl::StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::Start(
    config::SchedulerConfig config) {
  auto s = std::unique_ptr<SchedulerServer>(new SchedulerServer());
  s->config_ = WithDefaults(std::move(config));
  const auto& c = s->config_;
  ASSIGN_OR_RETURN(s->storage_, OpenStorage(c));

  BlobAccess* cas = s->storage_.cas.get();
  const bool exec = !c.execution().disabled();
  s->services_.push_back(std::make_unique<CapabilitiesService>(c, exec));
  s->services_.push_back(std::make_unique<CasService>(
      cas, CasLimits{c.max_batch_total_size_bytes(), c.storage().max_cas_blob_size_bytes()}));
  s->services_.push_back(std::make_unique<ByteStreamService>(
      cas, c.storage().max_cas_blob_size_bytes(), absl::Seconds(c.upload_idle_seconds())));
  s->services_.push_back(std::make_unique<ActionCacheService>(
      s->storage_.action_cache.get(), cas, !c.disable_action_cache_updates()));
  if (exec) {
    s->queue_ = std::make_unique<BuildQueue>(c.execution(), s->storage_.action_cache.get());
    s->services_.push_back(std::make_unique<ExecutionService>(
        s->queue_.get(), s->storage_.action_cache.get(), cas, s->config_.execution()));
    s->services_.push_back(std::make_unique<OperationsService>(s->queue_.get()));
    s->services_.push_back(std::make_unique<WorkerService>(s->queue_.get()));
  }

  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen_address(), grpc::InsecureServerCredentials(), &s->port_);
  // A full batch plus its per-blob framing must fit in one message.
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.max_batch_total_size_bytes() + (4 << 20)));
  builder.SetMaxSendMessageSize(static_cast<int>(c.max_batch_total_size_bytes() + (4 << 20)));
  // Execute, WaitExecution and the worker streams run on the callback API and hold no thread;
  // the sync pool serves the storage calls. With gRPC's default of at most 2 idle pollers, a
  // thread finishing a call exits and the next call starts a new one; keeping idle threads
  // saves a thread start per call.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  for (auto& service : s->services_) builder.RegisterService(service.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen_address()));
  }
  return s;
}

void SchedulerServer::Shutdown() {
  // In-flight calls get a moment to finish; after that they are cancelled, and clients retry.
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

SchedulerServer::~SchedulerServer() {
  Shutdown();
  if (server_) server_->Wait();
  services_.clear();
  queue_.reset();
}

}  // namespace kfarm
