// Directories on disk <-> REAPI Directory trees. Building produces canonical messages (names
// one segment each, files/directories/symlinks each sorted by name in byte order, executable
// bits kept, symlinks as SymlinkNodes), which is what makes equal trees have equal digests.
#ifndef KFARM_COMMON_MERKLE_H_
#define KFARM_COMMON_MERKLE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

struct MerkleTree {
  Digest root;
  // Every Directory message of the tree, serialized, by digest.
  absl::flat_hash_map<Digest, std::string> directories;
  // One local path per distinct file content.
  absl::flat_hash_map<Digest, std::string> files;
};

// Fails on anything that is not a regular file, directory or symlink, naming the path.
absl::StatusOr<MerkleTree> BuildMerkleTree(const std::string& dir);

// Checks one Directory message for canonical form; errors name the offending entry.
absl::Status ValidateDirectory(const reapi::Directory& dir, const Digest& digest);

}  // namespace kfarm

#endif  // KFARM_COMMON_MERKLE_H_
