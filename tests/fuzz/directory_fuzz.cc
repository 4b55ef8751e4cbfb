// Directory messages arrive from clients' input trees. Validation must never crash, and a
// Directory it accepts has only names that are safe path components.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/digest.h"
#include "common/merkle.h"
#include "common/safe_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  build::bazel::remote::execution::v2::Directory dir;
  if (dir.ParseFromArray(data, static_cast<int>(size))) {
    const auto digest = kfarm::Digest::Of(std::string(reinterpret_cast<const char*>(data), size));
    if (kfarm::ValidateDirectory(dir, digest).ok()) {
      for (const auto& f : dir.files()) {
        if (!kfarm::CheckRelativePath(f.name(), "name").ok()) std::abort();
      }
      for (const auto& d : dir.directories()) {
        if (!kfarm::CheckRelativePath(d.name(), "name").ok()) std::abort();
      }
    }
  }
  const std::string path(reinterpret_cast<const char*>(data), size);
  if (kfarm::CheckRelativePath(path, "path").ok() &&
      (path.empty() || path[0] == '/' || path == ".." || path.rfind("../", 0) == 0 ||
       path.find("/../") != std::string::npos)) {
    std::abort();
  }
  return 0;
}
