// What the security tests share: certificates from deploy/make_certs.sh, client credentials,
// one-call helpers, and a fixture whose GuardedConfig is a TLS scheduler with tokens, grants and
// a worker token.
#ifndef KFARM_TESTS_SECURITY_FIXTURE_H_
#define KFARM_TESTS_SECURITY_FIXTURE_H_

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/dial.h"
#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/authorizer.h"
#include "scheduler/server.h"

namespace kfarm {

namespace reapi = build::bazel::remote::execution::v2;

inline std::string Read(const std::string& path) { return ReadFile(path).value_or(""); }

inline void MakeCerts(const std::string& dir) {
  std::string cmd = absl::StrCat("bash ", KFARM_SOURCE_DIR, "/deploy/make_certs.sh ", dir,
                                 " >/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

inline config::ClientCredentials Creds(const std::string& dir, const std::string& token_file = "",
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

inline grpc::Status FindMissing(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& instance = "") {
  reapi::FindMissingBlobsRequest req;
  req.set_instance_name(instance);
  reapi::FindMissingBlobsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return reapi::ContentAddressableStorage::NewStub(channel)->FindMissingBlobs(&ctx, req, &resp);
}

inline grpc::Status UpdateActionResult(const std::shared_ptr<grpc::Channel>& channel,
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
inline grpc::Status ConnectAsWorker(const std::shared_ptr<grpc::Channel>& channel, bool* welcomed) {
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

}  // namespace kfarm

#endif  // KFARM_TESTS_SECURITY_FIXTURE_H_
