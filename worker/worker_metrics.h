// What a worker reports to Prometheus: each action's staging, execution and upload times and its
// outputs' bytes (read from the ExecutedActionMetadata the executor fills, so the two always
// agree), sandbox start-up times, and at each scrape its file cache's hits, misses and bytes
// fetched.
#ifndef KFARM_WORKER_WORKER_METRICS_H_
#define KFARM_WORKER_WORKER_METRICS_H_

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "kfarm/worker.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "worker/action_runner.h"
#include "worker/file_cache.h"

namespace kfarm {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  void Observe(const worker::Completion& completion);
  void SandboxStarted(absl::Duration took) {
    sandbox_setup_->Observe(absl::ToDoubleSeconds(took));
  }
  // The file cache's counters, for a scrape.
  static std::vector<prometheus::MetricFamily> CacheCounters(const FileCache& cache);

 private:
  prometheus::Family<prometheus::Counter>* actions_;
  prometheus::Histogram* staging_;
  prometheus::Histogram* executing_;
  prometheus::Histogram* uploading_;
  prometheus::Histogram* sandbox_setup_;
  prometheus::Counter* output_bytes_;
};

// Runs actions through `base` and observes each completion.
class MeteredActionRunner : public ActionRunner {
 public:
  MeteredActionRunner(ActionRunner* base, WorkerMetrics* metrics)
      : base_(base), metrics_(metrics) {}
  worker::Completion Run(const worker::Assignment& a, CancelSignal* cancel) override {
    worker::Completion c = base_->Run(a, cancel);
    metrics_->Observe(c);
    return c;
  }

 private:
  ActionRunner* base_;
  WorkerMetrics* metrics_;
};

}  // namespace kfarm

#endif  // KFARM_WORKER_WORKER_METRICS_H_
