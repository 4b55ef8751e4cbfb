// One make run in the background, its output kept in a file for the error report: kfarm follows
// kbuild while it works instead of waiting for it.
#ifndef KFARM_KBUILD_BACKGROUND_MAKE_H_
#define KFARM_KBUILD_BACKGROUND_MAKE_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kfarm {

class BackgroundMake {
 public:
  // Runs `make -C tree ARGS...` with stdin from /dev/null, in `env` (NAME=VALUE each) when
  // given, else in kfarm's own environment.
  static absl::StatusOr<std::unique_ptr<BackgroundMake>> Start(
      const std::string& tree, const std::vector<std::string>& args,
      const std::vector<std::string>* env = nullptr);
  ~BackgroundMake();  // Stops make if it still runs.

  // Null while make runs; then OK, or FAILED_PRECONDITION with the command and its output's end.
  std::optional<absl::Status> Poll();
  // Blocks until make exits; then as Poll.
  absl::Status Wait();
  // Readable once make has exited (a pidfd), for waiting on it beside other events; -1 where the
  // kernel has no pidfds.
  int exit_fd() const { return pidfd_; }
  const std::string& command() const { return command_; }

 private:
  BackgroundMake() = default;
  // Null while make runs (`block`: waits instead, but an interrupted wait is null too).
  std::optional<absl::Status> Reap(bool block);

  std::string tree_, command_, log_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<absl::Status> result_;
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_BACKGROUND_MAKE_H_
