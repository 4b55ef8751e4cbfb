#include "common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kfarm {
namespace {
std::atomic<bool> quiet{false};
}

void SetLogQuiet(bool q) { quiet = q; }

void LogLine(LogLevel level, absl::string_view message) {
  if (level == LogLevel::kInfo && quiet) return;
  const char* tag = level == LogLevel::kInfo ? "I" : level == LogLevel::kWarning ? "W" : "E";
  std::string line = absl::StrCat(
      tag, absl::FormatTime("%Y-%m-%dT%H:%M:%E3S ", absl::Now(), absl::UTCTimeZone()), message,
      "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace kfarm
