// What the scheduler knows of one execution: the action a worker runs, shared by every
// operation waiting on it (identical cacheable actions in flight run once). The operation table,
// the dispatcher and the worker registry each keep pointers to it; BuildQueue's lock guards it.
#ifndef KFARM_SCHEDULER_EXECUTION_RECORD_H_
#define KFARM_SCHEDULER_EXECUTION_RECORD_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "common/digest.h"
#include "scheduler/fair_queue.h"

namespace kfarm {

struct ExecuteParams {
  std::string instance_name;
  Digest action_digest;
  reapi::Action action;
  reapi::Command command;
  reapi::Platform platform;  // Effective: Action.platform, else Command.platform.
  int32_t priority = 0;
  absl::Duration timeout;
  bool skip_cache_lookup = false;
  std::string invocation_id;  // RequestMetadata.tool_invocation_id: which build asked.
  std::string tool;           // RequestMetadata.tool_details: "name version".
  std::string principal;      // Who asked: the operation's owner.
  std::string shape;          // Arguments and outputs without digests (duration history key).
  Digest largest_input;       // The biggest input file (>= 1 MiB), for cache affinity.
  // Every Directory of the input tree, as the client's bytes: sent along to the worker.
  std::vector<std::string> input_directory_blobs;
};

enum class Stage { kQueued, kExecuting, kCompleted };

struct Execution {
  std::string id;
  ExecuteParams params;
  std::string summary;  // The command, shortened: kept after the command itself is dropped.
  bool cacheable = true;
  Stage stage = Stage::kQueued;
  uint64_t seq = 0;
  FairQueueKey key;          // Its place while queued.
  bool queued = false;       // In the ready queue.
  std::string platform_key;  // The platform, serialized: equal platforms match alike.
  std::string worker;                      // While executing.
  absl::Duration expected;                 // Learned duration when assigned (0: unknown).
  // Whether the worker it went to held its largest input already, by the dispatcher's account.
  bool largest_input_held = false;
  std::vector<std::string> dead_workers;   // Workers that died running it, or how they failed.
  std::vector<std::string> failed_on;      // Their ids: other workers are preferred.
  absl::Time queued_at;
  absl::Time assigned_at;                  // When last sent to a worker.
  absl::Time unmatched_since = absl::InfiniteFuture();
  reapi::ExecuteResponse response;
  std::vector<std::string> operation_names; // Every operation attached, finished or not.
  int operations = 0;                        // Attached operations not cancelled.
  uint64_t version = 0;
  absl::CondVar changed;  // Its waiters only: no thundering herd across thousands of streams.

  bool FailedOn(const std::string& worker_id) const {
    for (const auto& id : failed_on) {
      if (id == worker_id) return true;
    }
    return false;
  }
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_EXECUTION_RECORD_H_
