// `kfarm modfinal`: the kernel's module final stage on the farm. Run in a tree after
// `make KBUILD_MODPOST_NOFINAL=1 ...`: compiles .mod.o/.module-common.o locally with kbuild's
// own rules, reads kbuild's recipe for every module, turns each module into one hermetic action
// (link + BTF + BTF ids) keyed on the digest of the raw base BTF, runs them on the farm, and
// writes every .ko and its .M.ko.cmd exactly as kbuild would.
#ifndef KFARM_KBUILD_MODFINAL_H_
#define KFARM_KBUILD_MODFINAL_H_

#include <string>
#include <vector>

namespace kfarm {

struct ModfinalOptions {
  std::string tree = ".";
  std::string remote = "grpc://127.0.0.1:8980";
  std::string instance;
  int jobs = 2;         // Local make -j for the .mod.o compiles.
  int parallel = 64;    // Actions in flight on the farm.
  bool keep_going = false;
  bool verbose = false;  // Print the commands, like V=1.
  bool module_hashes = false;
  std::vector<std::string> make_args;  // Passed to make (e.g. KBUILD_BUILD_TIMESTAMP=...).
};

// Returns the process exit status.
int RunModfinal(const ModfinalOptions& options);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODFINAL_H_
