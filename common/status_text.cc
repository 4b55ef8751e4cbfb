#include "common/status_text.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/human_duration.h"

namespace kfarm {

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

std::string Ago(const google::protobuf::Timestamp& t, const google::protobuf::Timestamp& now) {
  return IsSet(t) ? HumanDuration(ToTime(now) - ToTime(t)) + " ago" : "-";
}

std::string OutcomeText(const status::OperationSummary& s) {
  if (s.stage() != "COMPLETED") return absl::AsciiStrToLower(s.stage());
  if (s.status_code() != 0) return absl::StrCat("error ", s.status_code());
  if (s.exit_code() != 0) return absl::StrCat("exit ", s.exit_code());
  return s.cached_result() ? "ok (cached)" : "ok";
}

bool OutcomeFailed(const status::OperationSummary& s) {
  return s.stage() == "CANCELLED" ||
         (s.stage() == "COMPLETED" && (s.status_code() != 0 || s.exit_code() != 0));
}

std::vector<Phase> Phases(const build::bazel::remote::execution::v2::ExecutedActionMetadata& m) {
  const Phase all[] = {
      {"queued", "wait", m.queued_timestamp(), m.worker_start_timestamp()},
      {"input fetch", "fetch", m.input_fetch_start_timestamp(), m.input_fetch_completed_timestamp()},
      {"execution", "exec", m.execution_start_timestamp(), m.execution_completed_timestamp()},
      {"output upload", "upload", m.output_upload_start_timestamp(),
       m.output_upload_completed_timestamp()},
  };
  std::vector<Phase> out;
  for (const Phase& p : all) {
    if (IsSet(p.from)) out.push_back(p);
  }
  return out;
}

}  // namespace kfarm
