// The scheduler's front door, over loopback: TLS with certificates from deploy/make_certs.sh,
// bearer tokens and client certificates mapped to principals, grants per permission, the worker
// protocol refused to anyone without a worker credential, a plaintext non-loopback scheduler
// refused, and a certificate rotated under load without a failed call.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/cas_client.h"
#include "common/dial.h"
#include "common/execution_client.h"
#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "gtest/gtest.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/authorizer.h"
#include "scheduler/server.h"

namespace kfarm {
namespace {

namespace reapi = build::bazel::remote::execution::v2;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Read(const std::string& path) { return ReadFile(path).value_or(""); }

void MakeCerts(const std::string& dir) {
  std::string cmd = absl::StrCat("bash ", KFARM_SOURCE_DIR, "/deploy/make_certs.sh ", dir,
                                 " >/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

config::ClientCredentials Creds(const std::string& dir, const std::string& token_file = "",
                                const std::string& cert = "") {
  config::ClientCredentials c;
  c.set_ca_file(dir + "/ca.pem");
  if (!token_file.empty()) c.set_token_file(token_file);
  if (!cert.empty()) {
    c.set_cert_file(dir + "/" + cert + ".pem");
    c.set_key_file(dir + "/" + cert + ".key");
  }
  return c;
}

grpc::Status FindMissing(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& instance = "") {
  reapi::FindMissingBlobsRequest req;
  req.set_instance_name(instance);
  reapi::FindMissingBlobsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return reapi::ContentAddressableStorage::NewStub(channel)->FindMissingBlobs(&ctx, req, &resp);
}

grpc::Status UpdateActionResult(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& instance) {
  reapi::UpdateActionResultRequest req;
  req.set_instance_name(instance);
  req.mutable_action_digest()->set_hash(std::string(64, 'a'));
  req.mutable_action_digest()->set_size_bytes(1);
  reapi::ActionResult resp;
  grpc::ClientContext ctx;
  return reapi::ActionCache::NewStub(channel)->UpdateActionResult(&ctx, req, &resp);
}

// Connects as a worker and registers; returns how the stream ended.
grpc::Status ConnectAsWorker(const std::shared_ptr<grpc::Channel>& channel, bool* welcomed) {
  auto stub = worker::WorkerService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->Connect(&ctx);
  worker::WorkerMessage hello;
  hello.mutable_register_()->set_worker_id("intruder");
  hello.mutable_register_()->set_slots(1000);
  stream->Write(hello);
  worker::SchedulerMessage reply;
  *welcomed = stream->Read(&reply) && reply.has_welcome();
  if (*welcomed) ctx.TryCancel();
  return stream->Finish();
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCerts(certs_);
    std::ofstream(certs_ + "/reader-token") << "reader-secret\n";
    std::ofstream(certs_ + "/bad-token") << "not-a-token";
  }

  // A TLS scheduler: "ci" (the generated token) may do everything but admin; "reader" only
  // reads; the certificate "client" reads and writes on instance "team".
  config::SchedulerConfig GuardedConfig() {
    config::SchedulerConfig c;
    c.set_listen_address("127.0.0.1:0");
    c.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
    c.mutable_tls()->set_cert_file(certs_ + "/scheduler.pem");
    c.mutable_tls()->set_key_file(certs_ + "/scheduler.key");
    c.mutable_tls()->set_client_ca_file(certs_ + "/ca.pem");
    auto* auth = c.mutable_auth();
    auto* t = auth->add_tokens();
    t->set_principal("ci");
    t->set_token_sha256(TokenHash(Read(certs_ + "/token")));
    t = auth->add_tokens();
    t->set_principal("reader");
    t->set_token_sha256(TokenHash("reader-secret"));
    auto* g = auth->add_grants();
    g->set_principal("ci");
    for (auto p : {config::READ, config::WRITE, config::EXECUTE, config::AC_WRITE}) g->add_permissions(p);
    g = auth->add_grants();
    g->set_principal("reader");
    g->add_permissions(config::READ);
    g = auth->add_grants();
    g->set_principal("client");
    g->set_instance_prefix("team");
    g->add_permissions(config::READ);
    c.mutable_worker_listener()->add_token_sha256(TokenHash(Read(certs_ + "/worker-token")));
    return c;
  }

  std::shared_ptr<grpc::Channel> Channel(const config::ClientCredentials& creds) {
    auto ch = Dial(absl::StrCat("grpcs://localhost:", server_->port()), creds);
    EXPECT_TRUE(ch.ok()) << ch.status();
    return ch.ok() ? *ch : nullptr;
  }

  TempDir tmp_;
  std::string certs_ = tmp_.path() + "/certs";
  std::unique_ptr<SchedulerServer> server_;
};

TEST_F(SecurityTest, TokensMapToPrincipalsAndGrantsDecide) {
  auto s = SchedulerServer::Start(GuardedConfig());
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);

  EXPECT_TRUE(FindMissing(Channel(Creds(certs_, certs_ + "/token"))).ok());
  grpc::Status ci_ac = UpdateActionResult(Channel(Creds(certs_, certs_ + "/token")), "team");
  EXPECT_NE(ci_ac.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ci_ac.error_message();
  EXPECT_NE(ci_ac.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ci_ac.error_message();

  grpc::Status none = FindMissing(Channel(Creds(certs_)));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();

  grpc::Status bad = FindMissing(Channel(Creds(certs_, certs_ + "/bad-token")));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(bad.error_message(), Not(HasSubstr("not-a-token")));

  auto reader = Channel(Creds(certs_, certs_ + "/reader-token"));
  EXPECT_TRUE(FindMissing(reader, "any/instance").ok());
  grpc::Status ac = UpdateActionResult(reader, "team");
  EXPECT_EQ(ac.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(ac.error_message(), HasSubstr("ac-write"));
  EXPECT_THAT(ac.error_message(), HasSubstr("\"team\""));
  EXPECT_THAT(ac.error_message(), Not(HasSubstr("reader-secret")));

  // Listing operations needs execute (each principal sees its own): the reader has none.
  grpc::ClientContext ctx;
  google::longrunning::ListOperationsResponse ops;
  grpc::Status list = google::longrunning::Operations::NewStub(reader)->ListOperations(&ctx, {}, &ops);
  EXPECT_EQ(list.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// An Execute stream kept open, with the operation's name from its first message.
struct OpenExecution {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<google::longrunning::Operation>> reader;
  std::string name;
};

std::unique_ptr<OpenExecution> StartExecution(const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& tag) {
  ActionSpec spec;
  spec.arguments = {"/bin/echo", tag};
  spec.do_not_cache = true;
  BuiltAction a = BuildAction(spec);
  CasClient cas(channel, "");
  absl::Status up = cas.UploadMissing(a.blobs);
  EXPECT_TRUE(up.ok()) << up;
  auto x = std::make_unique<OpenExecution>();
  reapi::ExecuteRequest req;
  a.digest.ToProto(req.mutable_action_digest());
  x->reader = reapi::Execution::NewStub(channel)->Execute(&x->ctx, req);
  google::longrunning::Operation op;
  EXPECT_TRUE(x->reader->Read(&op)) << tag;
  x->name = op.name();
  return x;
}

// Every operation ListOperations shows `channel`, page by page; fails the test on a bad page.
std::set<std::string> ListAll(const std::shared_ptr<grpc::Channel>& channel, int page_size,
                              int* pages) {
  std::set<std::string> names;
  google::longrunning::ListOperationsRequest req;
  req.set_page_size(page_size);
  *pages = 0;
  do {
    grpc::ClientContext ctx;
    google::longrunning::ListOperationsResponse resp;
    grpc::Status s = google::longrunning::Operations::NewStub(channel)->ListOperations(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    EXPECT_LE(resp.operations_size(), page_size);
    for (const auto& op : resp.operations()) EXPECT_TRUE(names.insert(op.name()).second) << op.name();
    req.set_page_token(resp.next_page_token());
    ++*pages;
  } while (!req.page_token().empty() && *pages < 100);
  return names;
}

TEST_F(SecurityTest, OperationsAreTheirSubmittersAndListInPages) {
  config::SchedulerConfig c = GuardedConfig();
  std::ofstream(certs_ + "/other-token") << "other-secret\n";
  std::ofstream(certs_ + "/admin-token") << "admin-secret\n";
  for (auto [who, secret] : {std::pair{"other", "other-secret"}, std::pair{"admin", "admin-secret"}}) {
    auto* t = c.mutable_auth()->add_tokens();
    t->set_principal(who);
    t->set_token_sha256(TokenHash(secret));
    auto* g = c.mutable_auth()->add_grants();
    g->set_principal(who);
    for (auto p : {config::READ, config::WRITE, config::EXECUTE}) g->add_permissions(p);
    if (std::string(who) == "admin") g->add_permissions(config::ADMIN);
  }
  auto s = SchedulerServer::Start(c);
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  // A worker that never finishes anything: the operations stay unfinished.
  auto worker_channel = Channel(Creds(certs_, certs_ + "/worker-token"));
  grpc::ClientContext worker_ctx;
  auto worker = worker::WorkerService::NewStub(worker_channel)->Connect(&worker_ctx);
  worker::WorkerMessage hello;
  hello.mutable_register_()->set_worker_id("busy");
  hello.mutable_register_()->set_slots(1);
  ASSERT_TRUE(worker->Write(hello));
  worker::SchedulerMessage welcome;
  ASSERT_TRUE(worker->Read(&welcome) && welcome.has_welcome());

  auto ci = Channel(Creds(certs_, certs_ + "/token"));
  auto other = Channel(Creds(certs_, certs_ + "/other-token"));
  auto admin = Channel(Creds(certs_, certs_ + "/admin-token"));
  std::vector<std::unique_ptr<OpenExecution>> running;
  std::set<std::string> ci_ops;
  for (const char* tag : {"a", "b", "c", "d", "e"}) {
    running.push_back(StartExecution(ci, tag));
    ci_ops.insert(running.back()->name);
  }
  running.push_back(StartExecution(other, "f"));
  const std::string others = running.back()->name;

  int pages = 0;
  EXPECT_EQ(ListAll(ci, 2, &pages), ci_ops);  // Its own five, in three pages of at most two.
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ListAll(other, 100, &pages), std::set<std::string>{others});
  std::set<std::string> everyone = ci_ops;
  everyone.insert(others);
  EXPECT_EQ(ListAll(admin, 4, &pages), everyone);

  const std::string theirs = running.front()->name;
  grpc::ClientContext get_ctx;
  google::longrunning::GetOperationRequest get;
  get.set_name(theirs);
  google::longrunning::Operation op;
  grpc::Status peek = google::longrunning::Operations::NewStub(other)->GetOperation(&get_ctx, get, &op);
  EXPECT_EQ(peek.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(peek.error_message(), HasSubstr("belongs to principal \"ci\""));
  EXPECT_THAT(peek.error_message(), Not(HasSubstr("secret")));
  google::longrunning::CancelOperationRequest cancel;
  cancel.set_name(theirs);
  google::protobuf::Empty empty;
  grpc::ClientContext cancel_ctx;
  grpc::Status stop = google::longrunning::Operations::NewStub(other)->CancelOperation(&cancel_ctx, cancel, &empty);
  EXPECT_EQ(stop.error_code(), grpc::StatusCode::PERMISSION_DENIED) << stop.error_message();
  grpc::ClientContext own_ctx;
  EXPECT_TRUE(google::longrunning::Operations::NewStub(ci)->CancelOperation(&own_ctx, cancel, &empty).ok());

  grpc::ClientContext filter_ctx;
  google::longrunning::ListOperationsRequest filtered;
  filtered.set_filter("done=true");
  google::longrunning::ListOperationsResponse none;
  grpc::Status f = google::longrunning::Operations::NewStub(admin)->ListOperations(&filter_ctx, filtered, &none);
  EXPECT_EQ(f.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(f.error_message(), HasSubstr("\"done=true\""));

  for (auto& x : running) x->ctx.TryCancel();
  worker_ctx.TryCancel();
}

TEST_F(SecurityTest, ClientCertificatesNameTheirPrincipal) {
  auto s = SchedulerServer::Start(GuardedConfig());
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  auto client = Channel(Creds(certs_, "", "client"));
  EXPECT_TRUE(FindMissing(client, "team").ok());
  EXPECT_TRUE(FindMissing(client, "team/kernel").ok());
  grpc::Status other = FindMissing(client, "teammate");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(other.error_message(), HasSubstr("principal \"client\" lacks the read permission"));
}

TEST_F(SecurityTest, PlaintextClientsCannotTalkToATlsListener) {
  auto s = SchedulerServer::Start(GuardedConfig());
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  reapi::FindMissingBlobsResponse resp;
  grpc::Status st = reapi::ContentAddressableStorage::NewStub(
      DialRemote(absl::StrCat("127.0.0.1:", server_->port())))->FindMissingBlobs(&ctx, {}, &resp);
  EXPECT_FALSE(st.ok());
}

TEST_F(SecurityTest, WorkersWithoutAWorkerCredentialNeverJoin) {
  auto s = SchedulerServer::Start(GuardedConfig());
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  bool welcomed = false;
  // A client's token, and a client certificate, are not worker credentials.
  for (auto creds : {Creds(certs_), Creds(certs_, certs_ + "/token"), Creds(certs_, "", "client")}) {
    grpc::Status st = ConnectAsWorker(Channel(creds), &welcomed);
    EXPECT_FALSE(welcomed);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EXPECT_EQ(server_->queue()->connected_workers(), 0u);
  }
  grpc::Status st = ConnectAsWorker(Channel(Creds(certs_, certs_ + "/worker-token")), &welcomed);
  EXPECT_TRUE(welcomed) << st.error_message();
}

TEST_F(SecurityTest, TheWorkerListenerTakesOnlyWorkerCertificates) {
  config::SchedulerConfig c = GuardedConfig();
  auto* wl = c.mutable_worker_listener();
  wl->clear_token_sha256();
  wl->set_listen_address("127.0.0.1:0");
  *wl->mutable_tls() = c.tls();
  wl->mutable_tls()->set_require_client_cert(true);
  auto s = SchedulerServer::Start(c);
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  ASSERT_NE(server_->worker_port(), server_->port());
  auto dial_workers = [&](const config::ClientCredentials& creds) {
    return *Dial(absl::StrCat("grpcs://localhost:", server_->worker_port()), creds);
  };
  bool welcomed = false;
  grpc::Status none = ConnectAsWorker(dial_workers(Creds(certs_)), &welcomed);
  EXPECT_FALSE(welcomed);
  EXPECT_FALSE(none.ok());
  // The client listener points workers elsewhere.
  grpc::Status client_side = ConnectAsWorker(Channel(Creds(certs_, "", "worker")), &welcomed);
  EXPECT_FALSE(welcomed);
  EXPECT_THAT(client_side.error_message(), HasSubstr("worker listener"));
  EXPECT_EQ(server_->queue()->connected_workers(), 0u);
  ConnectAsWorker(dial_workers(Creds(certs_, "", "worker")), &welcomed);
  EXPECT_TRUE(welcomed);
}

TEST_F(SecurityTest, AnExposedSchedulerNeedsTlsAndAuthOrInsecure) {
  config::SchedulerConfig c;
  c.set_listen_address("0.0.0.0:0");
  c.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
  auto plain = SchedulerServer::Start(c);
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(plain.status().message(), HasSubstr("without TLS or authentication"));
  EXPECT_THAT(plain.status().message(), HasSubstr("--insecure"));

  // Clients guarded, and no worker credential: no worker could ever join.
  config::SchedulerConfig guarded = GuardedConfig();
  guarded.mutable_worker_listener()->clear_token_sha256();
  auto no_workers = SchedulerServer::Start(guarded);
  EXPECT_EQ(no_workers.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_workers.status().message(), HasSubstr("no worker could join"));

  // TLS without auth on an exposed address: clients are the operator's call, but any host
  // could join as a worker.
  config::SchedulerConfig tls_only = GuardedConfig();
  tls_only.set_listen_address("0.0.0.0:0");
  tls_only.clear_auth();
  tls_only.mutable_worker_listener()->clear_token_sha256();
  auto open_workers = SchedulerServer::Start(tls_only);
  EXPECT_EQ(open_workers.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(open_workers.status().message(), HasSubstr("join as a worker"));

  c.set_insecure(true);
  auto insecure = SchedulerServer::Start(c);
  EXPECT_TRUE(insecure.ok()) << insecure.status();
}

TEST_F(SecurityTest, BadTlsFilesStopTheServerNamingTheFile) {
  config::SchedulerConfig c = GuardedConfig();
  c.mutable_tls()->set_key_file(certs_ + "/client.key");
  auto mismatched = SchedulerServer::Start(c);
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatched.status().message(), HasSubstr("client.key does not match certificate"));
  c.mutable_tls()->set_key_file(certs_ + "/missing.key");
  EXPECT_THAT(SchedulerServer::Start(c).status().message(), HasSubstr("missing.key"));
}

TEST_F(SecurityTest, TokensTravelInPlaintextOnlyToLoopback) {
  config::ClientCredentials c;
  c.set_token_file(certs_ + "/token");
  EXPECT_TRUE(Dial("grpc://127.0.0.1:1", c).ok());
  auto remote = Dial("grpc://farm.example:8980", c);
  EXPECT_EQ(remote.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(remote.status().message(), HasSubstr("grpcs://farm.example:8980"));
}

// A rotation: the certificate directory's symlink swaps to new files while a client calls in a
// loop on one long-lived channel and on fresh connections; no call fails, and new connections
// get the new certificate.
TEST_F(SecurityTest, ACertificateRotatesUnderLoadWithoutAFailedCall) {
  namespace fs = std::filesystem;
  const std::string gen1 = tmp_.path() + "/gen1", gen2 = tmp_.path() + "/gen2";
  const std::string current = tmp_.path() + "/current";
  fs::copy(certs_, gen1);
  fs::copy(certs_, gen2);
  MakeCerts(gen2);  // Same CA (its key is there), new scheduler key and certificate.
  ASSERT_NE(Read(gen1 + "/scheduler.pem"), Read(gen2 + "/scheduler.pem"));
  fs::create_directory_symlink(gen1, current);

  config::SchedulerConfig c = GuardedConfig();
  c.mutable_tls()->set_cert_file(current + "/scheduler.pem");
  c.mutable_tls()->set_key_file(current + "/scheduler.key");
  c.mutable_tls()->set_reload_interval_seconds(1);
  auto s = SchedulerServer::Start(c);
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Read(certs_ + "/ca.pem");
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::string last_failure;
  auto long_lived = Channel(Creds(certs_, certs_ + "/token"));
  std::thread load([&] {
    while (!stop) {
      grpc::Status st = FindMissing(long_lived);
      ++calls;
      if (!st.ok()) {
        ++failures;
        last_failure = st.error_message();
      }
    }
  });
  // Fresh connections (a private subchannel pool each) show which certificate is served.
  auto served = [&]() -> std::string {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(absl::StrCat("localhost:", server_->port()),
                                        grpc::SslCredentials(ssl), args);
    reapi::GetCapabilitiesRequest req;
    reapi::ServerCapabilities resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + Read(certs_ + "/token"));
    grpc::Status st = reapi::Capabilities::NewStub(ch)->GetCapabilities(&ctx, req, &resp);
    ++calls;
    if (!st.ok()) {
      ++failures;
      last_failure = st.error_message();
      return "";
    }
    auto pem = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
    return pem.empty() ? "" : std::string(pem[0].data(), pem[0].size());
  };
  EXPECT_EQ(served(), Read(gen1 + "/scheduler.pem"));
  fs::create_directory_symlink(gen2, current + ".new");
  fs::rename(current + ".new", current);
  bool rotated = false;
  for (int i = 0; i < 300 && !rotated; ++i) {  // The watcher looks every second.
    rotated = served() == Read(gen2 + "/scheduler.pem");
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  load.join();
  EXPECT_TRUE(rotated) << "new connections never got the rotated certificate";
  EXPECT_EQ(failures, 0) << last_failure;
  EXPECT_GT(calls, 10);
}

}  // namespace
}  // namespace kfarm
