// BuildQueue as operators see it: the status page's report, and one operation's story.
#include <algorithm>
#include <map>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/support/status.h>

#include "absl/strings/str_cat.h"
#include "scheduler/build_queue.h"

namespace kfarm {
namespace {

// Unfinished operations listed at most: a distro build queues thousands at once, and the page
// is for reading.
constexpr size_t kMaxRunningListed = 1000;

google::protobuf::Timestamp Stamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

const char* StageName(const OperationRecord& op) {
  if (op.cancelled) return "CANCELLED";
  switch (op.execution->stage) {
    case Stage::kQueued: return "QUEUED";
    case Stage::kExecuting: return "EXECUTING";
    case Stage::kCompleted: return "COMPLETED";
  }
  return "UNKNOWN";
}

status::OperationSummary Summarize(const OperationRecord& op) {
  const Execution& e = *op.execution;
  status::OperationSummary s;
  s.set_name(op.name);
  s.set_invocation_id(op.invocation_id);
  s.set_action_digest(e.params.action_digest.ToString());
  s.set_instance_name(e.params.instance_name);
  s.set_stage(StageName(op));
  s.set_summary(e.summary);
  s.set_retries(static_cast<int32_t>(e.dead_workers.size()));
  *s.mutable_queued() = Stamp(op.created);
  if (e.stage == Stage::kExecuting) s.set_worker(e.worker);
  if (e.stage == Stage::kCompleted) {
    s.set_worker(e.response.result().execution_metadata().worker());
    s.set_exit_code(e.response.result().exit_code());
    s.set_status_code(e.response.status().code());
    s.set_status_message(e.response.status().message());
    s.set_cached_result(e.response.cached_result());
  }
  if (op.cancelled) s.set_status_code(grpc::StatusCode::CANCELLED);
  if (op.done_at != absl::InfiniteFuture()) *s.mutable_finished() = Stamp(op.done_at);
  return s;
}

}  // namespace

void BuildQueue::CacheHit(const std::string& invocation_id, const std::string& tool) {
  Locked lock(this);
  operations_.builds().CacheHit(invocation_id, tool, clock_());
}

status::StatusReport BuildQueue::Status(int max_recent) {
  Locked lock(this);
  status::StatusReport r;
  *r.mutable_now() = Stamp(clock_());
  *r.mutable_started() = Stamp(started_);
  r.set_operations(static_cast<int64_t>(operations_.size()));

  std::map<std::pair<std::string, std::string>, status::QueueLine> lines;
  auto line = [&](const Execution& e) -> status::QueueLine& {
    std::string platform = PlatformLabel(e.params.platform);
    status::QueueLine& l = lines[{e.params.instance_name, platform}];
    l.set_instance_name(e.params.instance_name);
    l.set_platform(std::move(platform));
    return l;
  };
  dispatcher_.ForEachQueued([&](const std::shared_ptr<Execution>& e) {
    status::QueueLine& l = line(*e);
    l.set_queued(l.queued() + 1);
  });

  std::vector<std::pair<std::string, Worker*>> workers;
  workers_.ForEach([&](Worker& w) { workers.emplace_back(w.id, &w); });
  std::sort(workers.begin(), workers.end());
  for (auto& [id, w] : workers) {
    status::WorkerStatus* ws = r.add_workers();
    ws->set_id(id);
    ws->set_platform(w->platform.Label());
    ws->set_slots(w->slots);
    *ws->mutable_last_seen() = Stamp(w->last_seen);
    ws->set_connected(w->link != nullptr);
    ws->set_draining(w->draining);
    ws->set_resting(w->resting_until != absl::InfinitePast());
    for (const auto& [exec_id, e] : w->running) {
      status::RunningAction* a = ws->add_running();
      if (!e->operation_names.empty()) a->set_operation(e->operation_names.front());
      a->set_summary(e->summary);
      *a->mutable_started() = Stamp(e->assigned_at);
      status::QueueLine& l = line(*e);
      l.set_executing(l.executing() + 1);
    }
    std::sort(ws->mutable_running()->begin(), ws->mutable_running()->end(),
              [](const status::RunningAction& a, const status::RunningAction& b) {
                return a.started().seconds() < b.started().seconds() ||
                       (a.started().seconds() == b.started().seconds() &&
                        a.started().nanos() < b.started().nanos());
              });
  }
  for (auto& [key, l] : lines) *r.add_queues() = std::move(l);

  // Unfinished operations per build, and the lists, from one pass over the table.
  std::map<std::string, std::pair<int64_t, int64_t>> live;  // invocation: queued, executing
  std::vector<const OperationRecord*> running, finished;
  operations_.ForEach([&](const OperationRecord& op) {
    if (op.finished()) {
      finished.push_back(&op);
      return;
    }
    running.push_back(&op);
    auto& [queued, executing] = live[op.invocation_id];
    (op.execution->stage == Stage::kExecuting ? executing : queued)++;
  });
  for (const BuildCounts& b : operations_.builds().List()) {
    status::BuildStatus* bs = r.add_builds();
    bs->set_invocation_id(b.invocation_id);
    bs->set_tool(b.tool);
    bs->set_cached(b.cached);
    bs->set_submitted(b.submitted);
    bs->set_succeeded(b.succeeded);
    bs->set_failed(b.failed);
    bs->set_cancelled(b.cancelled);
    bs->set_queued(live[b.invocation_id].first);
    bs->set_executing(live[b.invocation_id].second);
    *bs->mutable_first_seen() = Stamp(b.first_seen);
    *bs->mutable_last_activity() = Stamp(b.last_activity);
  }

  r.set_running_total(static_cast<int64_t>(running.size()));
  const size_t listed = std::min(running.size(), kMaxRunningListed);
  std::partial_sort(running.begin(), running.begin() + listed, running.end(),
                    [](const OperationRecord* a, const OperationRecord* b) {
                      return std::tie(a->created, a->name) < std::tie(b->created, b->name);
                    });
  for (size_t i = 0; i < listed; ++i) *r.add_running() = Summarize(*running[i]);
  const size_t recent = std::min(finished.size(), static_cast<size_t>(std::max(0, max_recent)));
  std::partial_sort(finished.begin(), finished.begin() + recent, finished.end(),
                    [](const OperationRecord* a, const OperationRecord* b) {
                      return std::tie(a->done_at, a->name) > std::tie(b->done_at, b->name);
                    });
  for (size_t i = 0; i < recent; ++i) *r.add_recent() = Summarize(*finished[i]);
  return r;
}

absl::StatusOr<BuildQueue::OperationStory> BuildQueue::Describe(const std::string& name) {
  Locked lock(this);
  const OperationRecord* op = operations_.Find(name);
  if (op == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no operation ", name, " (finished longer ago than completed_retention_ms, or the "
        "scheduler restarted)"));
  }
  const Execution& e = *op->execution;
  OperationStory story;
  *story.detail.mutable_summary() = Summarize(*op);
  for (const std::string& why : e.dead_workers) story.detail.add_failures(why);
  for (const std::string& other : e.operation_names) story.detail.add_operations(other);
  reapi::ExecutedActionMetadata& md = *story.detail.mutable_metadata();
  if (e.stage == Stage::kCompleted) {
    md = e.response.result().execution_metadata();
    if (e.response.status().code() == 0) story.result = e.response.result();
  } else if (e.stage == Stage::kExecuting) {
    md.set_worker(e.worker);
    *md.mutable_worker_start_timestamp() = Stamp(e.assigned_at);
  }
  if (!md.has_queued_timestamp()) *md.mutable_queued_timestamp() = Stamp(e.queued_at);
  return story;
}

}  // namespace kfarm
