// Lays out an action's input root: directories created, files hardlinked from the FileCache
// (no copy of anything already cached), symlinks recreated. The sandbox makes the linked files
// unwritable for the action, so the cache cannot be altered through them.
#ifndef KFARM_WORKER_INPUT_STAGER_H_
#define KFARM_WORKER_INPUT_STAGER_H_

#include <string>

#include "absl/status/status.h"
#include "common/cas_reader.h"
#include "worker/file_cache.h"

namespace kfarm {

class InputStager {
 public:
  // With `link` false every input is a private, writable copy: for setups where the sandbox
  // cannot keep an action from writing through a hardlink (no bubblewrap, or not root).
  InputStager(CasReader* cas, FileCache* cache, bool link) : cas_(cas), cache_(cache), link_(link) {}

  // `dir` must exist and be empty. `given` holds the tree's Directory blobs when the scheduler
  // sent them along (each is found by the digest of its bytes); otherwise the tree is fetched.
  absl::Status Stage(const Digest& root, const std::string& dir,
                     const google::protobuf::RepeatedPtrField<std::string>& given = {});

 private:
  CasReader* cas_;
  FileCache* cache_;
  bool link_;
};

// Hands every directory below `root` (not `root` itself, nor files or symlinks) to uid:gid, so
// an action running as that host user can create its outputs there. Input files stay as staged:
// read-only to the action.
absl::Status GiveDirectoriesTo(const std::string& root, int uid, int gid);

// Creates the parent directories of every declared output under the working directory.
absl::Status CreateOutputParents(const reapi::Command& command, const std::string& working_dir);

}  // namespace kfarm

#endif  // KFARM_WORKER_INPUT_STAGER_H_
