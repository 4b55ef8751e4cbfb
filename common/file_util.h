// Small file helpers whose errors always carry the path.
#ifndef KFARM_COMMON_FILE_UTIL_H_
#define KFARM_COMMON_FILE_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Streams the file to `fn` in chunks of up to 1 MiB.
absl::Status ForEachChunk(const std::string& path,
                          const std::function<void(absl::string_view)>& fn);
// Writes via a temp file + rename so readers never see a partial file.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, bool executable);
// Streams the file through SHA-256.
absl::StatusOr<Digest> DigestOfFile(const std::string& path);

}  // namespace kfarm

#endif  // KFARM_COMMON_FILE_UTIL_H_
