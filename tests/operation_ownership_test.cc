// Operations belong to the principal that submitted them: another principal (but an admin) may
// not read, wait on or cancel one, even knowing its name; ListOperations lists one's own in
// pages. A real TLS scheduler in this process, with a worker that never finishes anything.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/cas_client.h"
#include "common/execution_client.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "tests/security_fixture.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

}  // namespace
}  // namespace kfarm
