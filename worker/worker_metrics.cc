#include "worker/worker_metrics.h"

#include "google/protobuf/util/time_util.h"
#include "google/rpc/code.pb.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;

// 1 ms to 3 h, as the scheduler's.
prometheus::Histogram::BucketBoundaries Buckets() {
  return {0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10800};
}

double Between(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(to - from)) / 1e9;
}

prometheus::MetricFamily Counter(const char* name, const char* help, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Counter;
  prometheus::ClientMetric m;
  m.counter.value = value;
  f.metric.push_back(m);
  return f;
}

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& r)
    : actions_(&prometheus::BuildCounter()
                    .Name("kfarm_worker_actions_total")
                    .Help("Actions this worker ran, by the status of their result")
                    .Register(r)),
      staging_(&prometheus::BuildHistogram()
                    .Name("kfarm_worker_input_staging_seconds")
                    .Help("Laying out an action's inputs, fetches included")
                    .Register(r)
                    .Add({}, Buckets())),
      executing_(&prometheus::BuildHistogram()
                      .Name("kfarm_worker_execution_seconds")
                      .Help("An action's command, from start to exit")
                      .Register(r)
                      .Add({}, Buckets())),
      uploading_(&prometheus::BuildHistogram()
                      .Name("kfarm_worker_output_upload_seconds")
                      .Help("Collecting and uploading an action's outputs")
                      .Register(r)
                      .Add({}, Buckets())),
      sandbox_setup_(&prometheus::BuildHistogram()
                          .Name("kfarm_worker_sandbox_setup_seconds")
                          .Help("Starting a kept-alive sandbox (on a slot's first action and "
                                "after one was killed)")
                          .Register(r)
                          .Add({}, Buckets())),
      output_bytes_(&prometheus::BuildCounter()
                         .Name("kfarm_worker_output_bytes_total")
                         .Help("Bytes of the outputs, stdout and stderr actions produced")
                         .Register(r)
                         .Add({})) {}

void WorkerMetrics::Observe(const worker::Completion& c) {
  const reapi::ExecuteResponse& response = c.response();
  const std::string status =
      !c.infrastructure_failure().empty()
          ? "WORKER_FAILED"
          : google::rpc::Code_Name(static_cast<google::rpc::Code>(response.status().code()));
  actions_->Add({{"status", status}}).Increment();
  const auto& md = response.result().execution_metadata();
  staging_->Observe(Between(md.input_fetch_start_timestamp(), md.input_fetch_completed_timestamp()));
  executing_->Observe(Between(md.execution_start_timestamp(), md.execution_completed_timestamp()));
  uploading_->Observe(
      Between(md.output_upload_start_timestamp(), md.output_upload_completed_timestamp()));
  int64_t bytes = response.result().stdout_digest().size_bytes() +
                  response.result().stderr_digest().size_bytes();
  for (const auto& f : response.result().output_files()) bytes += f.digest().size_bytes();
  output_bytes_->Increment(static_cast<double>(bytes));
}

std::vector<prometheus::MetricFamily> WorkerMetrics::CacheCounters(const FileCache& cache) {
  auto lookups = Counter("kfarm_worker_cache_lookups_total",
                         "Inputs looked up in the worker's file cache, by result", 0);
  lookups.metric.clear();
  for (auto [result, value] : {std::pair<const char*, int64_t>{"hit", cache.hits()},
                               {"miss", cache.misses()}}) {
    prometheus::ClientMetric m;
    m.label = {{"result", result}};
    m.counter.value = static_cast<double>(value);
    lookups.metric.push_back(m);
  }
  return {lookups, Counter("kfarm_worker_input_fetched_bytes_total",
                           "Bytes of inputs fetched from the CAS into the file cache",
                           static_cast<double>(cache.bytes_fetched()))};
}

}  // namespace kfarm
