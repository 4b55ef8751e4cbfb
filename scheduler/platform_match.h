// Whether a worker can run an action: every property the action asks for must be offered by
// the worker under the same name with the same value (a worker may offer several values for one
// name, e.g. two pahole versions).
#ifndef KFARM_SCHEDULER_PLATFORM_MATCH_H_
#define KFARM_SCHEDULER_PLATFORM_MATCH_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"

namespace kfarm {

class OfferedPlatform {
 public:
  OfferedPlatform() = default;
  explicit OfferedPlatform(
      const google::protobuf::RepeatedPtrField<build::bazel::remote::execution::v2::Platform::Property>& props);

  bool Satisfies(const build::bazel::remote::execution::v2::Platform& wanted) const;
  // "value1|value2" offered for `name`, for error messages.
  std::string Offered(const std::string& name) const;
  // Everything offered, "name=value1|value2,..." sorted, or "(none)": for operators.
  std::string Label() const;

 private:
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> values_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_PLATFORM_MATCH_H_
