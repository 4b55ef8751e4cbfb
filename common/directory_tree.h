// Walking a Directory tree, the two ways kfarm needs:
//  - WalkTree: each distinct Directory once, breadth first and a level at a time, as stored
//    (so a remote store serves each level in a few batch calls): loading an action's inputs,
//    GetTree, fetching a tree to stage or download.
//  - ExpandTree: every path of a tree already fetched, a Directory shared by several paths
//    visited at each, depth first in Directory order: staging, downloading, listing.
// Both follow digests, never names: the walk is finite whatever the tree, since a Directory
// cannot contain its own digest.
#ifndef KFARM_COMMON_DIRECTORY_TREE_H_
#define KFARM_COMMON_DIRECTORY_TREE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/blob_access.h"
#include "common/digest.h"

namespace kfarm {

using DirectoryMap = absl::flat_hash_map<Digest, reapi::Directory>;

// Each asked digest's bytes as stored, in order; nullopt for one that is absent.
using FetchLevel =
    absl::FunctionRef<absl::StatusOr<std::vector<std::optional<std::string>>>(absl::Span<const Digest>)>;

// One Directory reached by WalkTree: `prefix` is the path it was first reached at, ending in '/'
// ("" for the root), ready to put before an entry's name. `bytes` may be moved from.
struct WalkedDirectory {
  const Digest& digest;
  const std::string& prefix;
  std::string& bytes;
  reapi::Directory& dir;
};

// Fetches and parses each Directory of the tree under `root` once; `visit` sees each (an error
// from it ends the walk with that error), `absent` each one `fetch` did not find (its subtree is
// skipped). A blob that does not parse, or a child with a malformed digest, is INVALID_ARGUMENT
// naming it and where it was reached.
absl::Status WalkTree(const Digest& root, FetchLevel fetch,
                      absl::FunctionRef<absl::Status(WalkedDirectory&)> visit,
                      absl::FunctionRef<void(const Digest&, const std::string& prefix)> absent);

// A FetchLevel over a local store: its NOT_FOUND is absence, any other error the walk's.
std::function<absl::StatusOr<std::vector<std::optional<std::string>>>(absl::Span<const Digest>)>
FetchFrom(BlobAccess* store);

// Visits `base` (the root) and every path below it, as base + "/" + names; `dir` is null where
// `dirs` lacks the Directory (its subtree is skipped). An error from `visit` ends the walk.
absl::Status ExpandTree(
    const Digest& root, const DirectoryMap& dirs, const std::string& base,
    absl::FunctionRef<absl::Status(const std::string& path, const Digest& digest,
                                   const reapi::Directory* dir)> visit);

// Adds the Directory `blob` under the digest of those bytes (whatever encoding the client used);
// INVALID_ARGUMENT naming the digest when it does not parse.
absl::Status AddDirectory(const std::string& blob, DirectoryMap* out);

// Directories as bytes (any range of std::string), keyed as AddDirectory does.
template <typename Blobs>
absl::StatusOr<DirectoryMap> ParseDirectories(const Blobs& blobs) {
  DirectoryMap out;
  for (const std::string& blob : blobs) {
    if (absl::Status s = AddDirectory(blob, &out); !s.ok()) return s;
  }
  return out;
}

}  // namespace kfarm

#endif  // KFARM_COMMON_DIRECTORY_TREE_H_
