// After the command: turns what it left at the declared output paths into an ActionResult —
// files (with the executable bit), directories as Tree blobs, symlinks — and uploads only what
// the CAS is missing. Missing outputs are simply omitted. stdout/stderr become blobs too.
#ifndef KFARM_WORKER_OUTPUT_COLLECTOR_H_
#define KFARM_WORKER_OUTPUT_COLLECTOR_H_

#include <string>

#include "absl/status/status.h"
#include "common/cas_client.h"

namespace kfarm {

absl::Status CollectOutputs(CasClient& cas, const reapi::Command& command,
                            const std::string& working_dir, const std::string& stdout_path,
                            const std::string& stderr_path, reapi::ActionResult* result);

}  // namespace kfarm

#endif  // KFARM_WORKER_OUTPUT_COLLECTOR_H_
