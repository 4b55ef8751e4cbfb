#include "scheduler/queue_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/code.pb.h"

namespace kfarm {
namespace {

// 10 ms to 3 h: a cache-warm compile to a kernel link on a busy farm.
prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10800};
}

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void Add(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
         double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

}  // namespace

std::string PlatformLabel(const reapi::Platform& platform) {
  std::vector<std::string> props;
  for (const auto& p : platform.properties()) props.push_back(absl::StrCat(p.name(), "=", p.value()));
  if (props.empty()) return "(none)";
  std::sort(props.begin(), props.end());
  return absl::StrJoin(props, ",");
}

QueueMetrics::QueueMetrics(prometheus::Registry& r)
    : merged_(&prometheus::BuildCounter()
                   .Name("kfarm_execute_merged_total")
                   .Help("Execute requests that joined an identical action already in flight")
                   .Register(r)
                   .Add({})),
      retried_(&prometheus::BuildCounter()
                    .Name("kfarm_execution_retries_total")
                    .Help("Actions queued again after their worker died or failed itself")
                    .Register(r)
                    .Add({})),
      large_held_(nullptr),
      large_fetched_(nullptr),
      queued_(&prometheus::BuildHistogram()
                   .Name("kfarm_execution_queued_seconds")
                   .Help("Time from Execute to a worker being given the action")
                   .Register(r)
                   .Add({}, DurationBuckets())),
      executing_(&prometheus::BuildHistogram()
                      .Name("kfarm_execution_executing_seconds")
                      .Help("Time from a worker being given the action to its result")
                      .Register(r)
                      .Add({}, DurationBuckets())),
      results_(&prometheus::BuildCounter()
                    .Name("kfarm_execution_results_total")
                    .Help("Finished executions by status and the command's exit code")
                    .Register(r)) {
  auto& large = prometheus::BuildCounter()
                    .Name("kfarm_large_input_assignments_total")
                    .Help("Actions with an input of 1 MiB or more (a kernel module's BTF step: "
                          "the base BTF) given to a worker that held it already, or that "
                          "fetched it (input=\"fetched\": base-BTF fetches)")
                    .Register(r);
  large_held_ = &large.Add({{"input", "held"}});
  large_fetched_ = &large.Add({{"input", "fetched"}});
}

void QueueMetrics::Completed(const reapi::ExecuteResponse& response, absl::Duration executing_for,
                             bool executed) {
  if (executed) executing_->Observe(absl::ToDoubleSeconds(executing_for));
  const int status = response.status().code();
  // Exit codes are bounded by the kernel's 0-255 (and a few negatives for signals): a label
  // with few values. A failed execution has none.
  const int exit_code = status == 0 ? response.result().exit_code() : 0;
  absl::MutexLock lock(&mu_);
  prometheus::Counter*& c = by_outcome_[{status, exit_code}];
  if (c == nullptr) {
    c = &results_->Add(
        {{"status", google::rpc::Code_Name(static_cast<google::rpc::Code>(status))},
         {"exit_code", status == 0 ? std::to_string(exit_code) : ""}});
  }
  c->Increment();
}

std::vector<prometheus::MetricFamily> QueueMetrics::Gauges(const QueueSnapshot& s) {
  std::vector<prometheus::MetricFamily> out;
  auto queued = Gauge("kfarm_queue_actions", "Actions waiting for a worker, by instance and platform");
  for (const auto& [key, n] : s.queued) {
    Add(queued, {{"instance", key.first}, {"platform", key.second}}, static_cast<double>(n));
  }
  out.push_back(std::move(queued));
  auto executing = Gauge("kfarm_executing_actions", "Actions running on workers");
  Add(executing, {}, static_cast<double>(s.executing));
  out.push_back(std::move(executing));
  auto workers = Gauge("kfarm_workers", "Connected workers by state");
  Add(workers, {{"state", "draining"}}, static_cast<double>(s.draining));
  Add(workers, {{"state", "resting"}}, static_cast<double>(s.resting));
  Add(workers, {{"state", "serving"}}, static_cast<double>(s.workers - s.draining - s.resting));
  out.push_back(std::move(workers));
  auto slots = Gauge("kfarm_worker_slots", "Action slots of the connected workers");
  Add(slots, {{"state", "busy"}}, static_cast<double>(s.busy_slots));
  Add(slots, {{"state", "idle"}}, static_cast<double>(std::max<int64_t>(0, s.slots - s.busy_slots)));
  out.push_back(std::move(slots));
  return out;
}

}  // namespace kfarm
