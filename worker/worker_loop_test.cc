// The worker loop against a scripted scheduler on loopback: a completion is kept until the
// scheduler says it received it, and sent again on the next stream when the one it went out on
// broke first. The actions are a fake that finishes on cue.
#include "worker/worker_loop.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "common/memory_blob_access.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Each stream: Register, Welcome, on the first stream the assignment "a"; then it records
// completions, acknowledging them (when `acks`), and ends the stream when told to.
class ScriptedScheduler : public worker::WorkerService::Service {
 public:
  explicit ScriptedScheduler(bool acks) : acks_(acks) {}

  grpc::Status Connect(grpc::ServerContext* ctx,
                       grpc::ServerReaderWriter<worker::SchedulerMessage, worker::WorkerMessage>* rw)
      override {
    worker::WorkerMessage in;
    if (!rw->Read(&in) || !in.has_register_()) return grpc::Status::CANCELLED;
    int stream;
    {
      absl::MutexLock lock(&mu_);
      stream = ++streams_;
      registered_.emplace_back(in.register_().running_executions().begin(),
                               in.register_().running_executions().end());
    }
    worker::SchedulerMessage welcome;
    welcome.mutable_welcome()->mutable_heartbeat_interval()->set_nanos(50000000);
    welcome.mutable_welcome()->set_acknowledges_completions(acks_);
    rw->Write(welcome);
    if (stream == 1) {
      worker::SchedulerMessage assign;
      assign.mutable_assignment()->set_execution_id("a");
      rw->Write(assign);
    }
    while (rw->Read(&in)) {
      absl::MutexLock lock(&mu_);
      if (in.has_completion()) {
        completions_.emplace_back(stream, in.completion().execution_id());
        // The first completion: the stream breaks before the scheduler can say it got it.
        if (break_before_first_ack_ && completions_.size() == 1) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "scheduler restarting");
        }
        if (acks_) {
          worker::SchedulerMessage received;
          received.add_received(in.completion().execution_id());
          rw->Write(received);
        }
      }
      if (end_stream_ == stream) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cut");
      if (ctx->IsCancelled()) break;
    }
    return grpc::Status::OK;
  }

  void BreakBeforeFirstAck() {
    absl::MutexLock lock(&mu_);
    break_before_first_ack_ = true;
  }
  // Ends stream `n` at its next message (a heartbeat comes every 50 ms).
  void EndStream(int n) {
    absl::MutexLock lock(&mu_);
    end_stream_ = n;
  }
  // Waits until `n` streams have registered, or 30 s.
  bool AwaitStreams(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  bool AwaitCompletions(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return completions_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  std::vector<std::pair<int, std::string>> completions() {
    absl::MutexLock lock(&mu_);
    return completions_;
  }
  std::vector<std::string> registered(int stream) {
    absl::MutexLock lock(&mu_);
    return registered_.at(stream - 1);
  }

 private:
  const bool acks_;
  absl::Mutex mu_;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  int end_stream_ ABSL_GUARDED_BY(mu_) = 0;
  bool break_before_first_ack_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::vector<std::string>> registered_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int, std::string>> completions_ ABSL_GUARDED_BY(mu_);
};

// Finishes each action when released.
class HeldActions : public ActionRunner {
 public:
  worker::Completion Run(const worker::Assignment& a, CancelSignal*) override {
    started_.Notify();
    release_.WaitForNotification();
    worker::Completion c;
    c.set_execution_id(a.execution_id());
    c.mutable_response()->mutable_result()->set_exit_code(0);
    return c;
  }
  void AwaitStarted() { started_.WaitForNotification(); }
  void Release() { release_.Notify(); }

 private:
  absl::Notification started_, release_;
};

class NoCas : public CasReader {
 public:
  TransferPlan PlanTransfers(absl::Span<const Digest>) override { return {}; }
  absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>&) override {
    return absl::UnimplementedError("no CAS here");
  }
  BlobAccess* remote() override { return &nothing_; }
  absl::StatusOr<DirectoryMap> FetchDirectories(const Digest&) override {
    return absl::UnimplementedError("no CAS here");
  }

 private:
  MemoryBlobAccess nothing_{0};
};

class WorkerLoopTest : public ::testing::Test {
 protected:
  void Start(bool acks) {
    scheduler_ = std::make_unique<ScriptedScheduler>(acks);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(scheduler_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(port, 0);
    auto cache = FileCache::Open({dir_.path() + "/cache", int64_t{1} << 20}, &no_cas_);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(*cache);
    WorkerOptions o;
    o.scheduler = "127.0.0.1:" + std::to_string(port);
    o.worker_id = "w1";
    loop_ = std::make_unique<WorkerLoop>(
        o, grpc::CreateChannel(o.scheduler, grpc::InsecureChannelCredentials()), &actions_,
        cache_.get());
    thread_ = std::thread([this] { loop_->Run(&stop_); });
  }
  ~WorkerLoopTest() override {
    stop_ = true;
    if (loop_) loop_->Stop();
    if (thread_.joinable()) thread_.join();
    loop_.reset();
    if (server_) server_->Shutdown();
  }

  TempDir dir_;
  NoCas no_cas_;
  HeldActions actions_;
  std::unique_ptr<ScriptedScheduler> scheduler_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<FileCache> cache_;
  std::unique_ptr<WorkerLoop> loop_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(WorkerLoopTest, ACompletionWhoseStreamBrokeBeforeItWasReceivedGoesOutAgain) {
  Start(/*acks=*/true);
  scheduler_->BreakBeforeFirstAck();
  actions_.AwaitStarted();
  actions_.Release();
  ASSERT_TRUE(scheduler_->AwaitCompletions(2));
  // Written on stream 1, which broke unanswered: still "running" here, and sent again.
  EXPECT_THAT(scheduler_->registered(2), ElementsAre("a"));
  EXPECT_THAT(scheduler_->completions(),
              ElementsAre(std::pair<int, std::string>{1, "a"}, std::pair<int, std::string>{2, "a"}));
  // Received on stream 2: forgotten, so a third stream hears nothing of it.
  scheduler_->EndStream(2);
  ASSERT_TRUE(scheduler_->AwaitStreams(3));
  EXPECT_THAT(scheduler_->registered(3), IsEmpty());
  EXPECT_EQ(scheduler_->completions().size(), 2u);
}

TEST_F(WorkerLoopTest, AnActionFinishingWhileDisconnectedIsReportedOnTheNextStream) {
  Start(/*acks=*/true);
  actions_.AwaitStarted();
  scheduler_->EndStream(1);  // Cut while the action runs.
  ASSERT_TRUE(scheduler_->AwaitStreams(2));
  EXPECT_THAT(scheduler_->registered(2), ElementsAre("a"));  // Reclaimed: still running.
  actions_.Release();
  ASSERT_TRUE(scheduler_->AwaitCompletions(1));
  EXPECT_THAT(scheduler_->completions(), ElementsAre(std::pair<int, std::string>{2, "a"}));
}

TEST_F(WorkerLoopTest, ASchedulerThatNeverAcknowledgesGetsEachCompletionOnce) {
  Start(/*acks=*/false);
  actions_.AwaitStarted();
  actions_.Release();
  ASSERT_TRUE(scheduler_->AwaitCompletions(1));
  scheduler_->EndStream(1);
  ASSERT_TRUE(scheduler_->AwaitStreams(2));
  EXPECT_THAT(scheduler_->registered(2), IsEmpty());
  absl::SleepFor(absl::Milliseconds(200));  // Heartbeats flow; nothing is sent again.
  EXPECT_EQ(scheduler_->completions().size(), 1u);
}

}  // namespace
}  // namespace kfarm
