// The farm fixture shared by the remote-execution integration tests: a real scheduler with
// fast heartbeats and grace periods, real workers, and helpers to build and run actions.
#ifndef KFARM_TESTS_EXECUTION_FIXTURE_H_
#define KFARM_TESTS_EXECUTION_FIXTURE_H_

#include <atomic>
#include <filesystem>
#include <future>
#include <fstream>
#include <map>

#include "common/cas_client.h"
#include "common/execution_client.h"
#include "common/merkle.h"
#include "common/testing/temp_dir.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/farm.h"

namespace kfarm {

constexpr char kFastConfig[] = R"(
  heartbeat_interval_ms: 200
  keepalive_interval_ms: 500
  no_worker_grace_ms: 3000
  max_worker_deaths: 3
  abandoned_operation_ms: 5000
)";

class ExecutionTest : public ::testing::Test {
 protected:
  // `execution` is added to kFastConfig; the flags go to the scheduler and to every worker.
  void StartFarm(int workers, int slots, const std::string& sandbox = "bubblewrap",
                 const std::string& execution = "",
                 const std::vector<std::string>& scheduler_flags = {},
                 const std::vector<std::string>& worker_flags = {}) {
    farm_ = std::make_unique<Farm>(dir_.path(), kFastConfig + execution, scheduler_flags);
    ASSERT_GT(farm_->scheduler().port(), 0);
    for (int i = 0; i < workers; ++i) {
      farm_->AddWorker(absl::StrCat("w", i), slots, sandbox, {}, worker_flags);
    }
    cas_ = std::make_unique<CasClient>(farm_->channel(), "");
    exec_ = std::make_unique<ExecutionClient>(farm_->channel(), "");
    if (workers > 0) {
      // Returns once a worker is connected. The client retries UNAVAILABLE during the
      // scheduler's 3 s grace; on a loaded machine a worker can take longer to start, and then
      // the scheduler says FAILED_PRECONDITION: asked again, for up to a minute.
      ActionSpec warm = Shell("true");
      warm.do_not_cache = true;
      absl::StatusOr<reapi::ExecuteResponse> r = Run(warm);
      for (int i = 0; i < 60 && !r.ok() && r.status().code() == absl::StatusCode::kFailedPrecondition;
           ++i) {
        absl::SleepFor(absl::Seconds(1));
        r = Run(warm);
      }
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  Digest UploadDir(const std::map<std::string, std::string>& files) {
    std::string root = dir_.path() + "/in-" + std::to_string(counter_++);
    for (const auto& [path, content] : files) {
      std::filesystem::create_directories(std::filesystem::path(root + "/" + path).parent_path());
      std::ofstream(root + "/" + path) << content;
    }
    std::filesystem::create_directories(root);
    auto tree = BuildMerkleTree(root);
    EXPECT_TRUE(tree.ok());
    EXPECT_TRUE(cas_->UploadTree(*tree).ok());
    return tree->root;
  }

  BuiltAction Prepare(ActionSpec spec) {
    BuiltAction a = BuildAction(spec);
    absl::Status up = cas_->UploadMissing(a.blobs);
    EXPECT_TRUE(up.ok()) << up;
    return a;
  }

  // One Execute call for `action`, read to its end, without the client's retries: its status.
  grpc::Status ExecuteOnce(const Digest& action) {
    auto stub = reapi::Execution::NewStub(farm_->channel());
    reapi::ExecuteRequest req;
    action.ToProto(req.mutable_action_digest());
    grpc::ClientContext ctx;
    auto reader = stub->Execute(&ctx, req);
    google::longrunning::Operation op;
    while (reader->Read(&op)) {
    }
    return reader->Finish();
  }

  // The request that executes `script` as a shell action never served from the cache.
  reapi::ExecuteRequest UncachedRequest(const std::string& script) {
    ActionSpec spec = Shell(script);
    spec.do_not_cache = true;
    reapi::ExecuteRequest req;
    Prepare(spec).digest.ToProto(req.mutable_action_digest());
    return req;
  }

  absl::StatusOr<reapi::ExecuteResponse> Run(const ActionSpec& spec, ExecuteOptions o = {}) {
    return exec_->Execute(Prepare(spec).digest, o);
  }

  // Starts executing `action` and returns once the scheduler has assigned it to a worker.
  std::future<absl::StatusOr<reapi::ExecuteResponse>> StartAndAwaitExecuting(const Digest& action) {
    auto executing = std::make_shared<std::promise<void>>();
    auto signalled = std::make_shared<std::atomic<bool>>(false);
    ExecuteOptions o;
    o.on_stage = [executing, signalled](reapi::ExecutionStage::Value s) {
      if (s == reapi::ExecutionStage::EXECUTING && !signalled->exchange(true)) executing->set_value();
    };
    auto result = std::async(std::launch::async, [this, action, o] { return exec_->Execute(action, o); });
    executing->get_future().wait();
    return result;
  }

  // An Execute call of its own, read until the scheduler reports EXECUTING (or the stream ends).
  struct RawExecution {
    grpc::ClientContext ctx;
    std::unique_ptr<reapi::Execution::Stub> stub;
    std::unique_ptr<grpc::ClientReader<google::longrunning::Operation>> reader;
    google::longrunning::Operation op;  // The last one read.

    // Reads to the end; the final ExecuteResponse.
    reapi::ExecuteResponse Finish() {
      while (reader->Read(&op)) {
      }
      reapi::ExecuteResponse resp;
      op.response().UnpackTo(&resp);
      return resp;
    }
  };
  std::unique_ptr<RawExecution> ExecuteUntilExecuting(const Digest& action) {
    auto x = std::make_unique<RawExecution>();
    x->stub = reapi::Execution::NewStub(farm_->channel());
    reapi::ExecuteRequest req;
    action.ToProto(req.mutable_action_digest());
    x->reader = x->stub->Execute(&x->ctx, req);
    while (x->reader->Read(&x->op)) {
      reapi::ExecuteOperationMetadata md;
      x->op.metadata().UnpackTo(&md);
      if (md.stage() == reapi::ExecutionStage::EXECUTING) break;
    }
    return x;
  }

  grpc::Status CancelOperation(const std::string& name) {
    auto ops = google::longrunning::Operations::NewStub(farm_->channel());
    google::longrunning::CancelOperationRequest cancel;
    cancel.set_name(name);
    google::protobuf::Empty empty;
    grpc::ClientContext ctx;
    return ops->CancelOperation(&ctx, cancel, &empty);
  }

  std::string Blob(const reapi::Digest& d) {
    auto digest = Digest::FromProto(d);
    if (!digest.ok()) return "";
    auto s = cas_->ReadBlob(*digest);
    return s.ok() ? *s : "<missing>";
  }

  static ActionSpec Shell(const std::string& script, std::vector<std::string> outputs = {}) {
    ActionSpec s;
    s.arguments = {"/bin/sh", "-c", script};
    s.environment = {{"PATH", "/usr/bin:/bin"}};
    s.output_paths = std::move(outputs);
    return s;
  }

  TempDir dir_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<CasClient> cas_;
  std::unique_ptr<ExecutionClient> exec_;
  int counter_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_TESTS_EXECUTION_FIXTURE_H_
