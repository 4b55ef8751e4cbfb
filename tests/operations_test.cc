// Operations end to end: cancelling, reattaching with WaitExecution, abandonment, and what an
// Execute stream hears while its action runs — the real scheduler and a worker over loopback.
#include <chrono>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>

#include "google/longrunning/operations.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/execution_fixture.h"

namespace kfarm {
namespace {

TEST_F(ExecutionTest, CancelOperationStopsARunningAction) {
  StartFarm(1, 1);
  ActionSpec spec = Shell("sleep 30");
  spec.do_not_cache = true;
  BuiltAction a = Prepare(spec);
  auto x = ExecuteUntilExecuting(a.digest);
  ASSERT_FALSE(x->op.name().empty());
  ASSERT_TRUE(CancelOperation(x->op.name()).ok());
  reapi::ExecuteResponse resp = x->Finish();
  EXPECT_TRUE(x->op.done());
  EXPECT_EQ(resp.status().code(), grpc::StatusCode::CANCELLED);
  // The single slot frees up quickly: the sleep was killed, not waited out.
  auto start = std::chrono::steady_clock::now();
  ActionSpec next = Shell("true");
  next.do_not_cache = true;
  ASSERT_TRUE(Run(next).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// An Execute answered from the action cache names an operation that every operation call knows.
TEST_F(ExecutionTest, ACacheHitsOperationAnswersGetWaitAndCancel) {
  StartFarm(1, 1);
  BuiltAction a = Prepare(Shell("echo from the cache"));
  ASSERT_TRUE(ExecuteOnce(a.digest).ok());
  auto stub = reapi::Execution::NewStub(farm_->channel());
  reapi::ExecuteRequest req;
  a.digest.ToProto(req.mutable_action_digest());
  grpc::ClientContext ctx;
  auto reader = stub->Execute(&ctx, req);
  google::longrunning::Operation hit;
  while (reader->Read(&hit)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  reapi::ExecuteResponse resp;
  ASSERT_TRUE(hit.done() && hit.response().UnpackTo(&resp));
  ASSERT_TRUE(resp.cached_result());
  const std::string stdout_text = Blob(resp.result().stdout_digest());
  EXPECT_EQ(stdout_text, "from the cache\n");
  auto same = [&](const google::longrunning::Operation& op) {
    reapi::ExecuteResponse r;
    return op.name() == hit.name() && op.done() && op.response().UnpackTo(&r) &&
           r.cached_result() && Blob(r.result().stdout_digest()) == stdout_text;
  };

  auto ops = google::longrunning::Operations::NewStub(farm_->channel());
  google::longrunning::GetOperationRequest get;
  get.set_name(hit.name());
  google::longrunning::Operation got;
  grpc::ClientContext gctx;
  ASSERT_TRUE(ops->GetOperation(&gctx, get, &got).ok()) << hit.name();
  EXPECT_TRUE(same(got));

  google::longrunning::WaitOperationRequest wait_op;
  wait_op.set_name(hit.name());
  grpc::ClientContext woctx;
  ASSERT_TRUE(ops->WaitOperation(&woctx, wait_op, &got).ok());
  EXPECT_TRUE(same(got));

  reapi::WaitExecutionRequest wait;
  wait.set_name(hit.name());
  grpc::ClientContext wctx;
  auto waiting = stub->WaitExecution(&wctx, wait);
  google::longrunning::Operation waited;
  ASSERT_TRUE(waiting->Read(&waited));
  EXPECT_TRUE(same(waited));
  EXPECT_FALSE(waiting->Read(&waited));
  EXPECT_TRUE(waiting->Finish().ok());

  EXPECT_TRUE(CancelOperation(hit.name()).ok());

  // The same name for an action the cache does not hold: NOT_FOUND, naming the action.
  const Digest other = Digest::Of("no such action");
  std::string missing = hit.name();
  missing.replace(missing.find(a.digest.hex()), 64, other.hex());
  missing = missing.substr(0, missing.rfind('-') + 1) + std::to_string(other.size());
  get.set_name(missing);
  grpc::ClientContext mctx;
  grpc::Status gone = ops->GetOperation(&mctx, get, &got);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(gone.error_message().find(other.ToString()), std::string::npos) << gone.error_message();
}

TEST_F(ExecutionTest, WaitExecutionReattachesAndAbandonedOperationsAreCancelled) {
  StartFarm(1, 1);
  auto stub = reapi::Execution::NewStub(farm_->channel());
  auto start = [&](const std::string& script) {
    grpc::ClientContext ctx;
    auto reader = stub->Execute(&ctx, UncachedRequest(script));
    google::longrunning::Operation op;
    EXPECT_TRUE(reader->Read(&op));
    ctx.TryCancel();  // The client goes away after the first update.
    reader->Finish();
    return op.name();
  };
  std::string name = start("sleep 1; echo reattached");
  ASSERT_FALSE(name.empty());
  reapi::WaitExecutionRequest wait;
  wait.set_name(name);
  grpc::ClientContext wctx;
  auto reader = stub->WaitExecution(&wctx, wait);
  google::longrunning::Operation op;
  while (reader->Read(&op) && !op.done()) {
  }
  ASSERT_TRUE(op.done());
  reapi::ExecuteResponse resp;
  ASSERT_TRUE(op.response().UnpackTo(&resp));
  EXPECT_EQ(Blob(resp.result().stdout_digest()), "reattached\n");

  // Nobody waits for this one: after abandoned_operation_ms it is cancelled.
  std::string abandoned = start("sleep 60");
  auto ops = google::longrunning::Operations::NewStub(farm_->channel());
  google::longrunning::GetOperationRequest get;
  get.set_name(abandoned);
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    grpc::ClientContext gctx;
    google::longrunning::Operation o;
    ASSERT_TRUE(ops->GetOperation(&gctx, get, &o).ok());
    reapi::ExecuteResponse r;
    cancelled = o.done() && o.response().UnpackTo(&r) && r.status().code() == grpc::StatusCode::CANCELLED;
  }
  EXPECT_TRUE(cancelled);
}

TEST_F(ExecutionTest, ExecuteStreamsHearFromTheSchedulerWhileTheActionRuns) {
  StartFarm(1, 1);  // keepalive_interval_ms: 500
  auto stub = reapi::Execution::NewStub(farm_->channel());
  grpc::ClientContext ctx;
  auto reader = stub->Execute(&ctx, UncachedRequest("sleep 2.2; echo late"));
  google::longrunning::Operation op;
  int updates = 0, executing = 0;
  while (reader->Read(&op)) {
    ++updates;
    reapi::ExecuteOperationMetadata md;
    if (op.metadata().UnpackTo(&md) && md.stage() == reapi::ExecutionStage::EXECUTING) ++executing;
  }
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_TRUE(op.done());
  reapi::ExecuteResponse resp;
  ASSERT_TRUE(op.response().UnpackTo(&resp));
  EXPECT_EQ(Blob(resp.result().stdout_digest()), "late\n");
  // One when it started, then keepalives (every 0.5 s, checked each 0.1 s) while it ran.
  EXPECT_GE(executing, 3);
  EXPECT_EQ(updates, executing + 1);
}

}  // namespace
}  // namespace kfarm

namespace kfarm {
namespace {

// Execute loads the action off gRPC's threads, then starts watching the operation. Clients that
// leave at any moment of that — before the load, during it, after — leave no operation counted
// as watched: each is abandoned, and cancelled, once nobody waits for it.
TEST_F(ExecutionTest, ClientsLeavingWhileExecuteLoadsLeaveNothingWatched) {
  StartFarm(1, 1);
  auto stub = reapi::Execution::NewStub(farm_->channel());
  std::vector<reapi::ExecuteRequest> requests;
  for (int i = 0; i < 24; ++i) requests.push_back(UncachedRequest("sleep 60 # " + std::to_string(i)));
  for (int i = 0; i < 24; ++i) {
    grpc::ClientContext ctx;
    auto reader = stub->Execute(&ctx, requests[i]);
    if (i % 3 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(i));  // Spread the moments.
    ctx.TryCancel();
    reader->Finish();
  }
  auto ops = google::longrunning::Operations::NewStub(farm_->channel());
  std::vector<std::string> open;
  for (int i = 0; i < 150; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    google::longrunning::ListOperationsRequest list;
    list.set_page_size(1000);
    google::longrunning::ListOperationsResponse resp;
    grpc::ClientContext lctx;
    ASSERT_TRUE(ops->ListOperations(&lctx, list, &resp).ok());
    open.clear();
    for (const auto& op : resp.operations()) {
      if (!op.done()) open.push_back(op.name());
    }
    if (open.empty()) break;
  }
  EXPECT_TRUE(open.empty()) << open.size() << " operations still open, first " << open[0];
}

}  // namespace
}  // namespace kfarm
