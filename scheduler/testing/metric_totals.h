// What a prometheus-cpp registry holds, for tests: each counter under its name summed over its
// labels and under name{label="value",...}; each histogram as name_count and name_sum.
#ifndef KFARM_SCHEDULER_TESTING_METRIC_TOTALS_H_
#define KFARM_SCHEDULER_TESTING_METRIC_TOTALS_H_

#include <map>
#include <string>

#include "prometheus/registry.h"

namespace kfarm {

inline std::map<std::string, double> MetricTotals(prometheus::Registry& registry) {
  std::map<std::string, double> seen;
  for (const auto& f : registry.Collect()) {
    for (const auto& m : f.metric) {
      if (f.type == prometheus::MetricType::Histogram) {
        seen[f.name + "_count"] += static_cast<double>(m.histogram.sample_count);
        seen[f.name + "_sum"] += m.histogram.sample_sum;
      } else if (f.type == prometheus::MetricType::Counter) {
        seen[f.name] += m.counter.value;
        if (m.label.empty()) continue;
        std::string key = f.name + "{";
        for (size_t i = 0; i < m.label.size(); ++i) {
          key += (i ? "," : "") + m.label[i].name + "=\"" + m.label[i].value + "\"";
        }
        seen[key + "}"] += m.counter.value;
      }
    }
  }
  return seen;
}

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_TESTING_METRIC_TOTALS_H_
