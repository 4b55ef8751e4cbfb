#include "common/child_process.h"

#include "common/spawn.h"

namespace kfarm {

pid_t StartTiedChild(const std::vector<std::string>& argv) {
  SpawnOptions o;
  o.argv = argv;
  o.in = o.out = o.err = SpawnStdio::Inherit();
  o.tie_to_parent = true;
  absl::StatusOr<pid_t> pid = Spawn(o);
  return pid.ok() ? *pid : -1;
}

}  // namespace kfarm
