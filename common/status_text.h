// The words the status page and `kfarm status` share for an operation and its times, so the two
// views of one StatusReport never disagree: its outcome, its ages, and its timeline's phases
// (from the ExecutedActionMetadata the worker filled).
#ifndef KFARM_COMMON_STATUS_TEXT_H_
#define KFARM_COMMON_STATUS_TEXT_H_

#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"
#include "kfarm/status.pb.h"

namespace kfarm {

bool IsSet(const google::protobuf::Timestamp& t);  // Unset timestamps are all zero.
absl::Time ToTime(const google::protobuf::Timestamp& t);
// "3.2 s ago", or "-" for an unset time.
std::string Ago(const google::protobuf::Timestamp& t, const google::protobuf::Timestamp& now);

// "queued", "executing", "cancelled", "error 4", "exit 2", "ok", "ok (cached)".
std::string OutcomeText(const status::OperationSummary& s);
// Cancelled, failed with an error status, or a non-zero exit.
bool OutcomeFailed(const status::OperationSummary& s);

struct Phase {
  const char* name;  // "queued", "input fetch", "execution", "output upload".
  const char* css;   // Its colour on the status page.
  google::protobuf::Timestamp from, to;  // `to` unset while it runs.
};
// The phases the worker reported, in order; ones never started are left out.
std::vector<Phase> Phases(const build::bazel::remote::execution::v2::ExecutedActionMetadata& m);

}  // namespace kfarm

#endif  // KFARM_COMMON_STATUS_TEXT_H_
