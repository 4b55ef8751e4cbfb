#ifndef KFARM_SCHEDULER_CONFIG_LOADER_H_
#define KFARM_SCHEDULER_CONFIG_LOADER_H_

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "kfarm/config.pb.h"

namespace kfarm {

// Parses a scheduler configuration in protobuf text format. Errors name ORIGIN (the file) with
// line and column, as a compiler does.
absl::StatusOr<config::SchedulerConfig> ParseSchedulerConfig(absl::string_view text,
                                                             absl::string_view origin);

// Checks that every value of a configuration (after WithDefaults) is one the server can honour:
// sizes that fit gRPC's int message limits, durations that cannot overflow when turned into
// deadlines, a default timeout within the maximum, TLS files given in pairs. Errors name the
// field and its value; nothing is silently clamped.
absl::Status CheckSchedulerConfig(const config::SchedulerConfig& c);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_CONFIG_LOADER_H_
