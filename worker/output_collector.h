// After the command: turns what it left at the declared output paths into an ActionResult —
// files (with the executable bit), directories as Tree blobs, symlinks — and uploads only what
// the CAS is missing. Missing outputs are simply omitted. stdout/stderr become blobs too.
#ifndef KFARM_WORKER_OUTPUT_COLLECTOR_H_
#define KFARM_WORKER_OUTPUT_COLLECTOR_H_

#include <string>

#include "absl/status/status.h"
#include "common/cas_client.h"

namespace kfarm {

// Outputs are read by the worker, outside the sandbox: an output whose directory resolves out of
// `input_root` (a symlink the action planted, e.g. to /etc) is an error, never followed.
absl::Status CollectOutputs(CasUploader& cas, const reapi::Command& command,
                            const std::string& input_root, const std::string& working_dir, const std::string& stdout_path,
                            const std::string& stderr_path, reapi::ActionResult* result);

}  // namespace kfarm

#endif  // KFARM_WORKER_OUTPUT_COLLECTOR_H_
