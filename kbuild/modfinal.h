// `kfarm modfinal`: the kernel's module final stage on the farm. Run in a tree after
// `make KBUILD_MODPOST_NOFINAL=1 ...` (or, with --follow, once the objects are compiled): one
// `make modules` compiles .mod.o/.module-common.o locally with kbuild's own rules while kbuild's
// recipe for each .ko is captured; each module becomes one hermetic action (link + BTF + BTF ids)
// keyed on the digest of the raw base BTF and goes to the farm as soon as make reaches it; every
// .ko and its .M.ko.cmd are written exactly as kbuild would.
#ifndef KFARM_KBUILD_MODFINAL_H_
#define KFARM_KBUILD_MODFINAL_H_

#include <string>
#include <vector>

#include "kfarm/config.pb.h"

namespace kfarm {

struct ModfinalOptions {
  std::string tree = ".";
  std::string extmod;  // An external module's directory (make's M=), built against `tree`.
  std::string remote = "grpc://127.0.0.1:8980";
  config::ClientCredentials credentials;  // TLS files and token for a grpcs:// or guarded farm.
  std::string instance;
  int jobs = 2;         // Local make -j for the .mod.o compiles.
  int parallel = 64;    // Actions in flight on the farm.
  bool keep_going = false;
  bool verbose = false;  // Print the commands, like V=1.
  bool module_hashes = false;
  // Pipelined with the vmlinux link: builds everything but vmlinux and the modules' final stage
  // locally, then links vmlinux while the farm links the modules, and runs each module's BTF
  // step once the base exists. The .ko files are the same bytes as without it.
  bool follow = false;
  // The objects and modpost's output are current (`make KBUILD_MODPOST_NOFINAL=1` just ran):
  // only kbuild's modfinal makefile runs, without make walking the tree again (about 2 s of a
  // warm run on the fixture). Sources changed since are then not recompiled.
  bool objects_current = false;
  // Make walks the tree even when nothing it reads changed since its last successful walk here
  // (kbuild/walk_record.h), which is otherwise skipped.
  bool always_walk = false;
  std::vector<std::string> make_args;  // Passed to make (e.g. KBUILD_BUILD_TIMESTAMP=...).
  std::string timeline;  // Written with when each phase and step ran (kbuild/timeline.h).
};

// Returns the process exit status.
int RunModfinal(const ModfinalOptions& options);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODFINAL_H_
