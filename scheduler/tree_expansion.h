// The size of an input tree as a worker stages it: a Directory shared by several parents is
// written out once per place it appears, so 13 distinct Directory blobs can stand for 8,191
// directories, and 40 for 2^41. Computed once per distinct Directory (memoized over the DAG),
// saturating, and stopped at the first limit passed, so checking a hostile tree costs as little
// as its distinct blobs.
#ifndef KFARM_SCHEDULER_TREE_EXPANSION_H_
#define KFARM_SCHEDULER_TREE_EXPANSION_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/digest.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"

namespace kfarm {

struct TreeLimits {
  uint64_t max_entries = 0;  // Files, symlinks and directories, each place counted.
  uint64_t max_bytes = 0;    // File sizes, each place counted.
  int max_depth = 0;         // Directories below the root.
};

// OK, or INVALID_ARGUMENT naming the limit, the expanded size and the path where it was passed.
// `directories` holds every Directory of the tree by digest (the caller checked they exist).
absl::Status CheckTreeExpansion(const absl::flat_hash_map<Digest, const reapi::Directory*>& directories,
                                const Digest& root, const TreeLimits& limits);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_TREE_EXPANSION_H_
