// A command in a line an operator can scan: the program's base name and as many arguments as
// fit, for the status page's lists (the whole command is on the operation's own page).
#ifndef KFARM_SCHEDULER_COMMAND_SUMMARY_H_
#define KFARM_SCHEDULER_COMMAND_SUMMARY_H_

#include <string>

#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "common/digest.h"

namespace kfarm {

inline constexpr size_t kMaxSummaryBytes = 160;

// At most kMaxSummaryBytes (plus "..." when cut), never cutting a UTF-8 sequence.
std::string CommandSummary(const reapi::Command& command);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_COMMAND_SUMMARY_H_
