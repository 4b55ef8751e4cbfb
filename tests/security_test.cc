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
#include <thread>

#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "tests/security_fixture.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

  // Workers stage inputs and store outputs there too, and may do nothing else with blobs.
  auto worker = dial_workers(Creds(certs_, "", "worker"));
  EXPECT_TRUE(FindMissing(worker, "any/instance").ok());
  EXPECT_FALSE(FindMissing(dial_workers(Creds(certs_)), "any/instance").ok());
  // The worker certificate buys nothing on the client listener.
  grpc::Status as_client = FindMissing(Channel(Creds(certs_, "", "worker")));
  EXPECT_EQ(as_client.error_code(), grpc::StatusCode::PERMISSION_DENIED) << as_client.error_message();
}

// On a listener shared with clients a worker token reads and writes blobs, and nothing more.
TEST_F(SecurityTest, AWorkerTokenReadsAndWritesBlobsOnly) {
  auto s = SchedulerServer::Start(GuardedConfig());
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  auto worker = Channel(Creds(certs_, certs_ + "/worker-token"));
  EXPECT_TRUE(FindMissing(worker).ok());
  grpc::Status ac = UpdateActionResult(worker, "team");
  EXPECT_EQ(ac.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ac.error_message();
  grpc::ClientContext ctx;
  google::longrunning::ListOperationsResponse ops;
  EXPECT_EQ(google::longrunning::Operations::NewStub(worker)->ListOperations(&ctx, {}, &ops)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
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
