// What this machine is, in the terms of REAPI's platform lexicon, and where its programs are.
// Workers offer their ISA and kfarm's clients ask for the ISA of the machine their tree was
// built on (its tools run on the worker), so neither may assume x86-64.
#ifndef KFARM_COMMON_HOST_PLATFORM_H_
#define KFARM_COMMON_HOST_PLATFORM_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kfarm {

// The lexicon's ISA for a `uname -m` machine name ("x86_64" -> "x86-64", "aarch64" ->
// "arm-a64"); a machine the lexicon does not name is returned as it is.
std::string IsaOfMachine(absl::string_view machine);
// IsaOfMachine of this machine.
std::string HostIsa();

// The first regular, executable `name` in the directories of the PATH-style `search_path`, or
// `name` itself when it holds a '/'; "" when there is none.
std::string FindExecutable(absl::string_view name, absl::string_view search_path);
// The same over $PATH (/usr/bin:/bin without one).
std::string FindExecutable(absl::string_view name);

}  // namespace kfarm

#endif  // KFARM_COMMON_HOST_PLATFORM_H_
