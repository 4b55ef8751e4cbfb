// Small file helpers whose errors always carry the path.
#ifndef KFARM_COMMON_FILE_UTIL_H_
#define KFARM_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes via a temp file + rename so readers never see a partial file.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, bool executable);
// Streams the file through SHA-256.
absl::StatusOr<Digest> DigestOfFile(const std::string& path);

}  // namespace kfarm

#endif  // KFARM_COMMON_FILE_UTIL_H_
