// Builds an input root from (relative path -> file digest) without touching the disk: the
// canonical Directory messages and their digests, for actions whose inputs are picked file by
// file (kernel modules) rather than taken from a directory.
#ifndef KFARM_COMMON_INPUT_TREE_H_
#define KFARM_COMMON_INPUT_TREE_H_

#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

class InputTree {
 public:
  // `path` is relative, '/'-separated, without "." or ".." segments.
  absl::Status AddFile(const std::string& path, const Digest& digest, bool executable);

  struct Built {
    Digest root;
    absl::flat_hash_map<Digest, std::string> directories;  // Serialized Directory messages.
  };
  Built Build() const;

 private:
  struct Node {
    std::map<std::string, std::pair<Digest, bool>> files;  // std::map: byte-ordered names.
    std::map<std::string, Node> dirs;
  };
  static Digest BuildNode(const Node& n, Built* out);
  Node root_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_INPUT_TREE_H_
