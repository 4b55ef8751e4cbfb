// The worker stream's acknowledgements, over real gRPC on loopback: every completion is answered
// exactly once, including those whose answer waited for a later message, and a worker left with
// nothing running hears about all of its completions without sending anything more.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kfarm/worker.grpc.pb.h"
#include "scheduler/server.h"

namespace kfarm {
namespace {

ExecuteParams Action(int i) {
  ExecuteParams p;
  p.command.add_arguments("true");
  p.command.add_arguments(absl::StrCat(i));
  p.action_digest = Digest::Of(p.command.SerializeAsString());
  p.timeout = absl::Seconds(60);
  return p;
}

class WorkerStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::SchedulerConfig c;
    c.set_listen_address("127.0.0.1:0");
    c.mutable_storage()->set_backend(config::StorageConfig::MEMORY);
    // No heartbeats in the test's span: only completions can carry anything up.
    c.mutable_execution()->set_heartbeat_interval_ms(3600 * 1000);
    auto server = SchedulerServer::Start(c);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = worker::WorkerService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->worker_port()), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<SchedulerServer> server_;
  std::unique_ptr<worker::WorkerService::Stub> stub_;
};

// A worker with 2 slots completes 7 actions, each as soon as it arrives, then waits: all 7
// acknowledgements reach it, each once, and the last ones arrive although it sends nothing more.
TEST_F(WorkerStreamTest, EveryCompletionIsAcknowledgedOnce) {
  constexpr int kActions = 7;
  for (int i = 0; i < kActions; ++i) ASSERT_TRUE(server_->queue()->Submit(Action(i)).ok());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  worker::WorkerMessage reg;
  reg.mutable_register_()->set_worker_id("w");
  reg.mutable_register_()->set_slots(2);
  ASSERT_TRUE(stream->Write(reg));
  std::map<std::string, int> acknowledged;
  int assigned = 0;
  worker::SchedulerMessage in;
  while (static_cast<int>(acknowledged.size()) < kActions && stream->Read(&in)) {
    for (const std::string& id : in.received()) ++acknowledged[id];
    if (!in.has_assignment()) continue;
    ++assigned;
    worker::WorkerMessage done;
    done.mutable_completion()->set_execution_id(in.assignment().execution_id());
    done.mutable_completion()->mutable_response()->mutable_result();
    ASSERT_TRUE(stream->Write(done));
  }
  EXPECT_EQ(assigned, kActions);
  ASSERT_EQ(acknowledged.size(), kActions) << "a completion was never acknowledged";
  for (const auto& [id, times] : acknowledged) EXPECT_EQ(times, 1) << id;
  ctx.TryCancel();
}

}  // namespace
}  // namespace kfarm
