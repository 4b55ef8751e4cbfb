#include "scheduler/server.h"

#include <algorithm>
#include <thread>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/dial.h"
#include "common/status.h"
#include "prometheus/text_serializer.h"
#include "scheduler/action_cache_service.h"
#include "scheduler/bytestream_service.h"
#include "scheduler/capabilities_service.h"
#include "scheduler/cas_service.h"
#include "scheduler/config_loader.h"
#include "scheduler/execution_service.h"
#include "scheduler/status_http.h"
#include "scheduler/status_service.h"
#include "scheduler/tls_credentials.h"
#include "scheduler/worker_service.h"

namespace kfarm {

namespace {

// Execute requests waiting to be loaded (and completions to be recorded) beyond which Execute
// is refused with RESOURCE_EXHAUSTED, which clients retry: a burst of tens of thousands from
// one build waits in the clients, not in the scheduler's memory.
constexpr size_t kMaxWaitingExecutionTasks = 8192;

// A full batch plus its per-blob framing must fit in one message.
void ConfigureBuilder(grpc::ServerBuilder& builder, const config::SchedulerConfig& c) {
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.max_batch_total_size_bytes() + (4 << 20)));
  builder.SetMaxSendMessageSize(static_cast<int>(c.max_batch_total_size_bytes() + (4 << 20)));
  // Execute, WaitExecution and the worker streams run on the callback API and hold no thread;
  // the sync pool serves the storage calls. With gRPC's default of at most 2 idle pollers, a
  // thread finishing a call exits and the next call starts a new one; keeping idle threads
  // saves a thread start per call.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  // HTTP/2 lets a client open streams without bound on one connection; past this many at once
  // its further streams wait (the client's HTTP/2 stack queues them), not the server's memory.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c.max_concurrent_streams());
}

bool HasTls(const config::TlsConfig& tls) { return !tls.cert_file().empty(); }

// Anyone who reaches a non-loopback port could read and write everything, or join as a worker.
absl::Status CheckExposure(const config::SchedulerConfig& c, const Authorizer& auth,
                           const WorkerGate& gate) {
  if (c.insecure()) return absl::OkStatus();
  const std::string hint = " (pass --insecure, or set insecure: true, to serve it anyway)";
  if (!IsLoopbackAddress(c.listen_address()) && !HasTls(c.tls()) && auth.open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve ", c.listen_address(),
        " without TLS or authentication: anyone who reaches it could read, write and run "
        "anything; configure tls and auth",
        hint));
  }
  const std::string& workers = c.worker_listener().listen_address().empty()
                                   ? c.listen_address()
                                   : c.worker_listener().listen_address();
  if (!c.execution().disabled() && !gate.admits_someone()) {
    return absl::FailedPreconditionError(
        "no worker could join: with auth configured, workers need worker_listener.token_sha256 "
        "or a worker_listener with tls.client_ca_file and require_client_cert");
  }
  if (!c.execution().disabled() && !IsLoopbackAddress(workers) && gate.open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to let any host join as a worker on ", workers,
        ": configure worker_listener.token_sha256, or a worker_listener with tls.client_ca_file "
        "and require_client_cert",
        hint));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SchedulerServer::Validate(const config::SchedulerConfig& config) {
  const config::SchedulerConfig c = WithDefaults(config);
  RETURN_IF_ERROR(CheckSchedulerConfig(c));
  ASSIGN_OR_RETURN(auto auth, Authorizer::Create(c.auth()));
  ASSIGN_OR_RETURN(WorkerGate gate, WorkerGate::Create(c.worker_listener(), auth->open()));
  return CheckExposure(c, *auth, gate);
}

absl::StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::Start(
    config::SchedulerConfig config) {
  auto s = std::unique_ptr<SchedulerServer>(new SchedulerServer());
  s->config_ = WithDefaults(std::move(config));
  const auto& c = s->config_;
  RETURN_IF_ERROR(CheckSchedulerConfig(c));
  ASSIGN_OR_RETURN(s->auth_, Authorizer::Create(c.auth()));
  ASSIGN_OR_RETURN(WorkerGate gate, WorkerGate::Create(c.worker_listener(), s->auth_->open()));
  s->gate_ = std::make_unique<WorkerGate>(std::move(gate));
  RETURN_IF_ERROR(CheckExposure(c, *s->auth_, *s->gate_));
  ASSIGN_OR_RETURN(auto client_creds, ServerCredentialsFor(c.tls(), "tls"));
  const bool separate_workers = !c.worker_listener().listen_address().empty();
  std::shared_ptr<grpc::ServerCredentials> worker_creds;
  if (separate_workers) {
    ASSIGN_OR_RETURN(worker_creds, ServerCredentialsFor(c.worker_listener().tls(),
                                                        "worker_listener.tls"));
  }
  ASSIGN_OR_RETURN(s->storage_, OpenStorage(c, *s->registry_));

  s->uploads_ = std::make_unique<UploadTable>(UploadLimits{
      absl::Seconds(c.upload_idle_seconds()), c.max_idle_uploads(), c.max_idle_upload_bytes()});
  const Authorizer* auth = s->auth_.get();
  BlobAccess* cas = s->storage_.cas.get();
  const bool exec = !c.execution().disabled();
  // Workers read inputs and write outputs through CAS and ByteStream on whichever listener they
  // use; elsewhere a worker credential grants nothing.
  auto add_storage = [&](std::vector<std::unique_ptr<grpc::Service>>& to, const Authorizer* a) {
    to.push_back(std::make_unique<CasService>(
        cas, CasLimits{c.max_batch_total_size_bytes(), c.storage().max_cas_blob_size_bytes()}, a));
    to.push_back(std::make_unique<ByteStreamService>(cas, c.storage().max_cas_blob_size_bytes(),
                                                     s->uploads_.get(), a));
  };
  if (!separate_workers) s->auth_->AdmitWorkerTokens(s->gate_.get());
  s->services_.push_back(std::make_unique<CapabilitiesService>(c, exec, auth));
  add_storage(s->services_, auth);
  s->services_.push_back(std::make_unique<ActionCacheService>(
      s->storage_.action_cache.get(), cas, !c.disable_action_cache_updates(),
      c.allow_absolute_symlinks(), auth));
  std::vector<std::unique_ptr<grpc::Service>> worker_services;
  if (exec) s->queue_ = std::make_unique<BuildQueue>(c.execution(), s->storage_.action_cache.get());
  s->status_ = std::make_unique<StatusSource>(s->queue_.get(), s->storage_.action_cache.get(), cas);
  s->services_.push_back(std::make_unique<StatusService>(s->status_.get(), auth));
  if (exec) {
    s->queue_metrics_ = std::make_unique<QueueMetrics>(*s->registry_);
    s->queue_->SetMetrics(s->queue_metrics_.get());
    // Disk-bound (cache lookups, input trees, cache writes): more threads than cores.
    s->executor_ = std::make_unique<BoundedExecutor>(
        "execution", std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency())),
        kMaxWaitingExecutionTasks);
    s->services_.push_back(std::make_unique<ExecutionService>(
        s->queue_.get(), s->storage_.action_cache.get(), cas, s->config_.execution(),
        c.allow_absolute_symlinks(), auth, s->executor_.get()));
    s->services_.push_back(std::make_unique<OperationsService>(
        s->queue_.get(), s->storage_.action_cache.get(), auth));
    // On the client listener, workers connect only when they have no listener of their own.
    s->services_.push_back(std::make_unique<WorkerService>(
        s->queue_.get(), separate_workers ? nullptr : s->gate_.get(), auth,
        c.worker_listener().listen_address(), s->executor_.get()));
    if (separate_workers) {
      s->worker_auth_ = Authorizer::ForWorkerListener(s->gate_.get());
      worker_services.push_back(std::make_unique<WorkerService>(
          s->queue_.get(), s->gate_.get(), auth, c.worker_listener().listen_address(),
          s->executor_.get()));
      add_storage(worker_services, s->worker_auth_.get());
    }
  }

  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen_address(), client_creds, &s->port_);
  ConfigureBuilder(builder, c);
  for (auto& service : s->services_) builder.RegisterService(service.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen_address()));
  }
  if (!worker_services.empty()) {
    grpc::ServerBuilder workers;
    workers.AddListeningPort(c.worker_listener().listen_address(), worker_creds, &s->worker_port_);
    ConfigureBuilder(workers, c);
    for (auto& service : worker_services) {
      workers.RegisterService(service.get());
      s->services_.push_back(std::move(service));
    }
    s->worker_server_ = workers.BuildAndStart();
    if (!s->worker_server_ || s->worker_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on worker_listener.listen_address ",
                                                 c.worker_listener().listen_address()));
    }
  }
  if (!c.http_listen_address().empty()) {
    ASSIGN_OR_RETURN(s->http_, HttpServer::Start(c.http_listen_address(), s->HttpHandlers()));
  }
  s->ready_ = true;
  return s;
}

std::map<std::string, HttpServer::Handler> SchedulerServer::HttpHandlers() {
  std::map<std::string, HttpServer::Handler> h;
  h["/metrics"] = [this](const HttpRequest&) {
    std::vector<prometheus::MetricFamily> families = registry_->Collect();
    for (auto& f : StoreGauges(storage_)) families.push_back(std::move(f));
    if (queue_) {
      for (auto& f : QueueMetrics::Gauges(queue_->Snapshot())) families.push_back(std::move(f));
    }
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = prometheus::TextSerializer().Serialize(families);
    return r;
  };
  AddStatusPages(status_.get(), auth_.get(), h);
  h["/healthz"] = [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; };
  h["/readyz"] = [this](const HttpRequest&) {
    if (ready_) return HttpResponse{200, "text/plain", "ready\n"};
    return HttpResponse{503, "text/plain", "shutting down\n"};
  };
  return h;
}

void SchedulerServer::Shutdown() {
  ready_ = false;
  // In-flight calls get a moment to finish; after that they are cancelled, and clients retry.
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  if (worker_server_) worker_server_->Shutdown(deadline);
  if (server_) server_->Shutdown(deadline);
}

SchedulerServer::~SchedulerServer() {
  Shutdown();
  http_.reset();
  if (worker_server_) worker_server_->Wait();
  if (server_) server_->Wait();
  executor_.reset();  // Its tasks use the services and the queue.
  services_.clear();
  queue_.reset();
}

}  // namespace kfarm
