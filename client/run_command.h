// `kfarm run`: runs one command on the farm and brings its outputs back.
#ifndef KFARM_CLIENT_RUN_COMMAND_H_
#define KFARM_CLIENT_RUN_COMMAND_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/cas_client.h"
#include "common/execution_client.h"

namespace kfarm {

struct RunOptions {
  std::string input_dir;  // Uploaded as the input root ("" = empty root).
  std::string out_dir;    // Outputs are written here (default: the input dir or ".").
  ActionSpec spec;
  bool skip_cache_lookup = false;
  int32_t priority = 0;
  // RequestMetadata.tool_invocation_id: runs sharing one are one build on the status page.
  std::string invocation_id;
};

// Returns the process exit code: the command's, or 1 (and a message) on a farm error.
int RunRemote(CasClient& cas, ExecutionClient& exec, RunOptions options);

}  // namespace kfarm

#endif  // KFARM_CLIENT_RUN_COMMAND_H_
