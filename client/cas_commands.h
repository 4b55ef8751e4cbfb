// `kfarm cas ...`: put a file or directory, get it back, list a tree.
#ifndef KFARM_CLIENT_CAS_COMMANDS_H_
#define KFARM_CLIENT_CAS_COMMANDS_H_

#include <string>
#include <vector>

#include "common/cas_client.h"

namespace kfarm {

// Returns the process exit code; errors are printed to stderr.
int RunCasCommand(CasClient& client, const std::vector<std::string>& args, bool as_dir);

}  // namespace kfarm

#endif  // KFARM_CLIENT_CAS_COMMANDS_H_
