// Ninja's no-op check for kbuild: whether `make modules` would find nothing to do in a tree where
// it last succeeded, decided by a stat of each file it depends on instead of make's walk (which
// reads every Makefile and stats every dependency, about 2 s of a warm run on the fixture).
//
// After a successful walk, the record (`.kfarm-walk` in the tree) keeps the moment make exited,
// the make arguments and environment, the tools kbuild's configuration names (compiler, linker,
// pahole...) with their files' identity, and every file make's decisions rest on:
//  - each target in a kbuild `.cmd` file and everything its `deps_` names (sources, headers,
//    the include/config/ stamps fixdep lists, present or absent);
//  - what make reads besides: .config, include/config/auto.conf{,.cmd}, the Kconfig files it
//    lists, the Makefile and Kbuild of every directory holding objects and of its parents, the
//    top Makefile, scripts' makefiles and the architecture's.
// The walk may be skipped only while every recorded file is unchanged since (none written after
// make exited, none appeared or went), and the arguments, environment and tools are the same. A
// record is not written when the tree was already stale as make exited (a source edited during
// the build, after its object was compiled): make's own rule, a dependency newer than its
// target, is checked for every target then.
#ifndef KFARM_KBUILD_WALK_RECORD_H_
#define KFARM_KBUILD_WALK_RECORD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kfarm {

// What make was run with: its arguments (not -j) and the environment, NAME=VALUE each.
struct WalkInputs {
  std::vector<std::string> make_args;
  std::vector<std::string> env;
};

// The clock the kernel stamps files with (CLOCK_REALTIME_COARSE): read it as make exits.
absl::Time FileClockNow();

// Records a successful `make modules` in `tree` that started at `make_started` and exited at
// `make_exited` (FileClockNow() both, the latter read before anything else wrote to the tree).
// Returns once that clock has moved past the exit, so a file written later carries a later time.
// FAILED_PRECONDITION naming the file when a dependency written during the build is newer than
// its target (edited after make used it); no record is left then, nor on any other error. A
// target left older than a dependency from before the build is one `make modules` does not
// build (the boot image's, say): recorded as it is. A file written within the
// clock's last tick before make exited is taken as make's own: the same blind spot as make's
// rule, which takes a dependency as old as its target for current.
absl::Status SaveWalkRecord(const std::string& tree, const WalkInputs& inputs,
                            absl::Time make_started, absl::Time make_exited);

// Empty when the walk would find nothing to do; else why it must run, naming what changed.
// `files_checked` (optional) counts the files stat'ed.
std::string WhyWalk(const std::string& tree, const WalkInputs& inputs, int* files_checked = nullptr);

// Drops the record: the next run walks.
void ForgetWalkRecord(const std::string& tree);

// The process's environment without what changes from shell to shell and no makefile reads.
std::vector<std::string> CurrentEnvironment();

}  // namespace kfarm

#endif  // KFARM_KBUILD_WALK_RECORD_H_
