// The worker's connection to the scheduler: dials (the scheduler never dials a worker),
// registers, runs assignments on up to `slots` threads, reports results, sends heartbeats, and
// reconnects with backoff — reporting what it is still running so that work is reclaimed, and
// delivering results that finished while the stream was down, or that were written to a stream
// that broke before the scheduler said it received them. Up to `queue_depth` assignments
// beyond the slots wait here and start on the thread whose action just finished.
#ifndef KFARM_WORKER_WORKER_LOOP_H_
#define KFARM_WORKER_WORKER_LOOP_H_

#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/synchronization/mutex.h"
#include "common/tool_versions.h"
#include "kfarm/worker.grpc.pb.h"
#include "worker/action_runner.h"
#include "worker/file_cache.h"

namespace kfarm {

struct WorkerOptions {
  std::string scheduler;
  std::string worker_id;
  int slots = 1;
  int queue_depth = 1;
  std::vector<reapi::Platform::Property> properties;
  // The modfinal tools, looked at again on every heartbeat: when they change, the worker
  // registers again with what it now has (null: only `properties`).
  ToolWatch* tools = nullptr;
};

class WorkerLoop {
 public:
  WorkerLoop(WorkerOptions options, std::shared_ptr<grpc::Channel> channel, ActionRunner* runner,
             FileCache* cache);
  ~WorkerLoop();

  // Returns once `stop` is set (checked between connection attempts and on stream end).
  void Run(const std::atomic<bool>* stop);
  void Stop();  // Ends the current stream so Run notices `stop`.
  // Takes nothing new from now on: the scheduler hears it at once (and on every heartbeat), and
  // what the worker holds, running or queued, runs to its end.
  void Drain();
  // Draining, and nothing is left to run or (while connected) to be acknowledged: the worker
  // may exit.
  bool Drained();
  bool draining() const { return draining_; }

 private:
  using Stream = grpc::ClientReaderWriter<worker::WorkerMessage, worker::SchedulerMessage>;
  struct Running {
    std::unique_ptr<CancelSignal> cancel;
    std::thread thread;
  };

  bool Session(const std::atomic<bool>* stop);
  void Start(const worker::Assignment& a);
  // Runs `a`, then whatever waits in queued_, on this thread.
  void RunFrom(worker::Assignment a);
  // Reports the result; returns the next queued assignment to run on this thread, if any.
  std::optional<worker::Assignment> Finish(worker::Completion completion);
  // Drops a queued (not started) assignment; the completion that tells the scheduler so.
  std::optional<worker::WorkerMessage> TakeQueuedLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The session the message was written on; 0 when there was no stream or the write failed.
  uint64_t Send(const worker::WorkerMessage& msg);
  // Writes a completion kept in in_doubt_ and notes the session it went out on.
  void SendCompletion(const worker::Completion& c);
  // Looks at the tools again; true when the worker must register again to offer what changed.
  bool ToolsChanged();
  void ReapFinishedThreads();

  const WorkerOptions options_;
  std::unique_ptr<worker::WorkerService::Stub> stub_;
  ActionRunner* runner_;
  FileCache* cache_;

  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);
  std::deque<worker::Assignment> queued_ ABSL_GUARDED_BY(mu_);  // Not started yet.
  std::vector<std::thread> finished_ ABSL_GUARDED_BY(mu_);
  // Completions not yet known to have reached the scheduler, by execution id: written on
  // session `written_on` (0: not written), dropped when the scheduler lists it as received (or, from a
  // scheduler that never does, once written).
  struct InDoubt {
    worker::Completion completion;
    uint64_t written_on = 0;
  };
  std::map<std::string, InDoubt> in_doubt_ ABSL_GUARDED_BY(mu_);
  uint64_t session_ ABSL_GUARDED_BY(mu_) = 0;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  bool acknowledged_ ABSL_GUARDED_BY(mu_) = false;  // This session's scheduler sends Received.
  std::atomic<bool> draining_{false};
  // This session's scheduler has answered the drain: no assignment is still on its way.
  bool drain_heard_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex write_mu_;  // One Write at a time on the stream.
  absl::Mutex tools_mu_;  // Around options_.tools.
};

}  // namespace kfarm

#endif  // KFARM_WORKER_WORKER_LOOP_H_
