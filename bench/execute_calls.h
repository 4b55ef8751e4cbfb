// Execute calls in flight from one client process, on gRPC's callback API as a build tool's
// async client makes them: no thread per call, so the client's own cost stays small next to the
// farm's. Calls refused as UNAVAILABLE (workers still connecting) are retried, as Bazel does.
#ifndef KFARM_BENCH_EXECUTE_CALLS_H_
#define KFARM_BENCH_EXECUTE_CALLS_H_

#include <grpcpp/support/client_callback.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/digest.h"
#include "google/longrunning/operations.pb.h"

namespace kfarm {

class ExecuteCalls {
 public:
  ExecuteCalls(const std::vector<Digest>& digests,
               std::vector<std::unique_ptr<reapi::Execution::Stub>> stubs,
               std::vector<reapi::ExecutedActionMetadata>* metadata)
      : digests_(digests), stubs_(std::move(stubs)), metadata_(metadata) {}

  // Keeps `clients` calls in flight until every digest ran; returns the failures.
  int Run(int clients) {
    std::vector<size_t> todo(digests_.size());
    for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
    for (int round = 0; !todo.empty(); ++round) {
      if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      {
        absl::MutexLock lock(&mu_);
        todo_ = std::move(todo);
        next_ = 0;
        finished_ = 0;
        retry_.clear();
      }
      for (size_t lane = 0; lane < static_cast<size_t>(clients); ++lane) StartNext(lane);
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ExecuteCalls::AllDone));
      todo = std::move(retry_);
      retry_.clear();
      if (round == 9) {  // Still unavailable: give up on them.
        failed_ += static_cast<int>(todo.size());
        break;
      }
    }
    absl::MutexLock lock(&mu_);
    return failed_;
  }

 private:
  class Call : public grpc::ClientReadReactor<google::longrunning::Operation> {
   public:
    Call(ExecuteCalls* run, size_t lane, size_t index) : run_(run), lane_(lane), index_(index) {
      req_.set_skip_cache_lookup(true);
      run_->digests_[index].ToProto(req_.mutable_action_digest());
      run_->stubs_[lane % run_->stubs_.size()]->async()->Execute(&ctx_, &req_, this);
      StartRead(&op_);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      if (op_.done()) done_ = op_.response().UnpackTo(&response_);
      StartRead(&op_);
    }
    void OnDone(const grpc::Status& s) override {
      const bool retry = s.error_code() == grpc::StatusCode::UNAVAILABLE;
      const bool good = s.ok() && done_ && response_.status().code() == 0 &&
                        response_.result().exit_code() == 0;
      if (!good && !retry) {
        std::string why = !s.ok()    ? s.error_message()
                          : !done_   ? "the stream ended without a finished operation"
                          : response_.status().code() != 0
                              ? response_.status().message()
                              : absl::StrCat("exit code ", response_.result().exit_code());
        std::fprintf(stderr, "execute %s: %s\n", req_.action_digest().hash().c_str(), why.c_str());
      }
      reapi::ExecutedActionMetadata md = response_.result().execution_metadata();
      ExecuteCalls* run = run_;
      const size_t lane = lane_, index = index_;
      delete this;  // Before the count: once the last one is counted, the channels may go.
      run->StartNext(lane);
      run->Finished(index, good, retry, md);
    }

   private:
    ExecuteCalls* const run_;
    const size_t lane_, index_;
    grpc::ClientContext ctx_;
    reapi::ExecuteRequest req_;
    google::longrunning::Operation op_;
    reapi::ExecuteResponse response_;
    bool done_ = false;
  };

  void StartNext(size_t lane) {
    size_t index;
    {
      absl::MutexLock lock(&mu_);
      if (next_ >= todo_.size()) return;
      index = todo_[next_++];
    }
    new Call(this, lane, index);
  }
  void Finished(size_t index, bool good, bool retry, const reapi::ExecutedActionMetadata& md) {
    absl::MutexLock lock(&mu_);
    ++finished_;
    if (retry) {
      retry_.push_back(index);
    } else if (!good) {
      ++failed_;
    } else if (metadata_ != nullptr) {
      metadata_->push_back(md);
    }
  }
  bool AllDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ == todo_.size(); }

  const std::vector<Digest>& digests_;
  std::vector<std::unique_ptr<reapi::Execution::Stub>> stubs_;
  std::vector<reapi::ExecutedActionMetadata>* const metadata_;
  absl::Mutex mu_;
  std::vector<size_t> todo_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  size_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> retry_ ABSL_GUARDED_BY(mu_);
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfarm

#endif  // KFARM_BENCH_EXECUTE_CALLS_H_
