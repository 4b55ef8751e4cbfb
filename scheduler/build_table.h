// Builds as operators see them: per RequestMetadata.tool_invocation_id (Bazel's invocation, or
// one `kfarm modfinal`), how many actions the cache served, how many were queued and how they
// ended. Only the most recently active builds are kept, so a farm that runs for months holds a
// bounded table. Not locked itself: BuildQueue's lock guards it.
#ifndef KFARM_SCHEDULER_BUILD_TABLE_H_
#define KFARM_SCHEDULER_BUILD_TABLE_H_

#include <list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace kfarm {

struct BuildCounts {
  std::string invocation_id;  // "" for requests that carried none.
  std::string tool;           // "bazel 4.2.3", from RequestMetadata.tool_details.
  int64_t cached = 0;
  int64_t submitted = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t cancelled = 0;
  absl::Time first_seen;
  absl::Time last_activity;
};

enum class Outcome { kSucceeded, kFailed, kCancelled };

class BuildTable {
 public:
  explicit BuildTable(size_t max_builds = 200) : max_builds_(max_builds) {}

  void CacheHit(const std::string& invocation_id, const std::string& tool, absl::Time now);
  void Submitted(const std::string& invocation_id, const std::string& tool, absl::Time now);
  void Finished(const std::string& invocation_id, Outcome outcome, absl::Time now);

  // Most recently active first.
  std::vector<BuildCounts> List() const;

 private:
  BuildCounts& Touch(const std::string& invocation_id, const std::string& tool, absl::Time now);

  const size_t max_builds_;
  std::list<BuildCounts> by_activity_;  // Front: most recently active.
  absl::flat_hash_map<std::string, std::list<BuildCounts>::iterator> index_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_BUILD_TABLE_H_
