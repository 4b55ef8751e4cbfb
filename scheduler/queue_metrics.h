// The execution queue as Prometheus sees it. Counters and histograms are fed as the queue works
// (under its lock, so each is a few atomic adds); the gauges — queue depth per instance and
// platform, workers and their slots — are read from a snapshot of the queue at each scrape.
#ifndef KFARM_SCHEDULER_QUEUE_METRICS_H_
#define KFARM_SCHEDULER_QUEUE_METRICS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "common/digest.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace kfarm {

// What the queue holds at one moment.
struct QueueSnapshot {
  std::map<std::pair<std::string, std::string>, int64_t> queued;  // (instance, platform): count
  int64_t executing = 0;
  int64_t workers = 0;
  int64_t draining = 0;
  int64_t resting = 0;  // Given no work for a while after failing again and again.
  int64_t slots = 0;
  int64_t busy_slots = 0;
};

// A platform as a label value: its properties sorted, "name=value,...", or "(none)".
std::string PlatformLabel(const reapi::Platform& platform);

class QueueMetrics {
 public:
  explicit QueueMetrics(prometheus::Registry& registry);

  void Merged() { merged_->Increment(); }  // An Execute joined an identical one in flight.
  void Retried() { retried_->Increment(); }  // Its worker died or failed; queued again.
  void Assigned(absl::Duration queued_for) { queued_->Observe(absl::ToDoubleSeconds(queued_for)); }
  // An action with an input of 1 MiB or more (a module's BTF step: the base BTF) went to a worker
  // that held it already, or that fetches it now.
  void LargeInput(bool held) { (held ? large_held_ : large_fetched_)->Increment(); }
  // A worker's result, or the queue's own failure of the action (never started: no time).
  void Completed(const reapi::ExecuteResponse& response, absl::Duration executing_for,
                 bool executed);

  // The gauges for a scrape.
  static std::vector<prometheus::MetricFamily> Gauges(const QueueSnapshot& s);

 private:
  prometheus::Counter* merged_;
  prometheus::Counter* retried_;
  prometheus::Counter* large_held_;
  prometheus::Counter* large_fetched_;
  prometheus::Histogram* queued_;
  prometheus::Histogram* executing_;
  prometheus::Family<prometheus::Counter>* results_;
  absl::Mutex mu_;
  // Results by (status, exit code): looked up once each, then reused.
  std::map<std::pair<int, int>, prometheus::Counter*> by_outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_QUEUE_METRICS_H_
