// Durations as operators read them ("45 µs", "2.5 ms", "840 ms", "3.2 s", "4m 05s", "2h 10m"), for the status page
// and `kfarm status` alike.
#ifndef KFARM_COMMON_HUMAN_DURATION_H_
#define KFARM_COMMON_HUMAN_DURATION_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace kfarm {

inline std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d < absl::Milliseconds(1)) return absl::StrFormat("%d µs", absl::ToInt64Microseconds(d));
  if (d < absl::Milliseconds(10)) return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
  if (d < absl::Seconds(1)) return absl::StrFormat("%d ms", absl::ToInt64Milliseconds(d));
  if (d < absl::Minutes(1)) return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 3600) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%dh %02dm", s / 3600, (s % 3600) / 60);
}

}  // namespace kfarm

#endif  // KFARM_COMMON_HUMAN_DURATION_H_
