// The base BTF every module's BTF is encoded against: the raw .BTF section of
// vmlinux.unstripped (vmlinux before 6.15), read with libelf. pahole and resolve_btfids accept
// raw BTF (libbpf's btf__parse), so a module action ships ~2 MB instead of a ~76 MB vmlinux,
// and the section's digest is the key every module action of one vmlinux shares.
#ifndef KFARM_KBUILD_BTF_BASE_H_
#define KFARM_KBUILD_BTF_BASE_H_

#include <string>

#include "absl/status/statusor.h"

namespace kfarm {

// NOT_FOUND naming the file when it has no .BTF section (or it is empty).
absl::StatusOr<std::string> ExtractBtf(const std::string& elf_path);

}  // namespace kfarm

#endif  // KFARM_KBUILD_BTF_BASE_H_
