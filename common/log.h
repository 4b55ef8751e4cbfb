// Minimal leveled logging to stderr (Abseil 20220623 predates absl/log).
#ifndef KFARM_COMMON_LOG_H_
#define KFARM_COMMON_LOG_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kfarm {

enum class LogLevel { kInfo, kWarning, kError };

void LogLine(LogLevel level, absl::string_view message);
void SetLogQuiet(bool quiet);  // Drops kInfo lines (tests, CLI).

template <typename... Args>
void LogInfo(const Args&... args) { LogLine(LogLevel::kInfo, absl::StrCat(args...)); }
template <typename... Args>
void LogWarning(const Args&... args) { LogLine(LogLevel::kWarning, absl::StrCat(args...)); }
template <typename... Args>
void LogError(const Args&... args) { LogLine(LogLevel::kError, absl::StrCat(args...)); }

}  // namespace kfarm

#endif  // KFARM_COMMON_LOG_H_
