// How long actions of each shape (the command and its outputs, without digests) took before,
// so the queue can start the longest expected first and big modules do not finish last.
#ifndef KFARM_SCHEDULER_DURATION_HISTORY_H_
#define KFARM_SCHEDULER_DURATION_HISTORY_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace kfarm {

class DurationHistory {
 public:
  // Exponential moving average, so a shape follows its latest runs.
  void Record(const std::string& shape, absl::Duration took) {
    auto [it, fresh] = expected_.try_emplace(shape, took);
    if (!fresh) it->second = (it->second * 3 + took) / 4;
  }
  // Zero for shapes never seen.
  absl::Duration Expected(const std::string& shape) const {
    auto it = expected_.find(shape);
    return it == expected_.end() ? absl::ZeroDuration() : it->second;
  }

 private:
  absl::flat_hash_map<std::string, absl::Duration> expected_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_DURATION_HISTORY_H_
