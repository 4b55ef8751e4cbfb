#include "scheduler/build_table.h"

namespace kfarm {

BuildCounts& BuildTable::Touch(const std::string& invocation_id, const std::string& tool,
                               absl::Time now) {
  auto it = index_.find(invocation_id);
  if (it != index_.end()) {
    by_activity_.splice(by_activity_.begin(), by_activity_, it->second);
  } else {
    BuildCounts b;
    b.invocation_id = invocation_id;
    b.first_seen = now;
    by_activity_.push_front(std::move(b));
    index_[invocation_id] = by_activity_.begin();
    if (by_activity_.size() > max_builds_) {
      index_.erase(by_activity_.back().invocation_id);
      by_activity_.pop_back();
    }
  }
  BuildCounts& b = by_activity_.front();
  if (b.tool.empty()) b.tool = tool;
  b.last_activity = now;
  return b;
}

void BuildTable::CacheHit(const std::string& invocation_id, const std::string& tool,
                          absl::Time now) {
  Touch(invocation_id, tool, now).cached++;
}

void BuildTable::Submitted(const std::string& invocation_id, const std::string& tool,
                           absl::Time now) {
  Touch(invocation_id, tool, now).submitted++;
}

void BuildTable::Finished(const std::string& invocation_id, Outcome outcome, absl::Time now) {
  // A build that fell out of the table while its actions ran comes back with what it has left:
  // its counts start again rather than being invented.
  BuildCounts& b = Touch(invocation_id, "", now);
  switch (outcome) {
    case Outcome::kSucceeded: b.succeeded++; break;
    case Outcome::kFailed: b.failed++; break;
    case Outcome::kCancelled: b.cancelled++; break;
  }
}

std::vector<BuildCounts> BuildTable::List() const {
  return {by_activity_.begin(), by_activity_.end()};
}

}  // namespace kfarm
