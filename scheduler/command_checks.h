// The Action and Command checks made once, at the scheduler's edge, before anything is queued:
// what a worker later trusts (paths it creates, the timeout it arms, the environment it sets)
// is refused here with an error naming the field and the value. REAPI's canonical forms
// (sorted, unique) are enforced: two spellings of one action would otherwise be two cache keys.
#ifndef KFARM_SCHEDULER_COMMAND_CHECKS_H_
#define KFARM_SCHEDULER_COMMAND_CHECKS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"

namespace kfarm {

// A Duration proto within [0, max]: seconds and nanos non-negative, nanos below 10^9.
absl::StatusOr<absl::Duration> CheckTimeout(const google::protobuf::Duration& d,
                                            absl::Duration max, absl::string_view field);

// Arguments (argv[0] non-empty), environment (names non-empty without '=', sorted, unique),
// working_directory and every output path (relative, no ".", ".." or empty segments; sorted,
// unique), and the platform's properties (sorted by name then value, unique).
absl::Status CheckCommand(const build::bazel::remote::execution::v2::Command& c);
absl::Status CheckPlatform(const build::bazel::remote::execution::v2::Platform& p,
                           absl::string_view field);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_COMMAND_CHECKS_H_
