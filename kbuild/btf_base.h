// The base BTF every module's BTF is encoded against: the raw .BTF section of
// vmlinux.unstripped (vmlinux before 6.15), read with libelf. pahole and resolve_btfids accept
// raw BTF (libbpf's btf__parse), so a module action ships ~2 MB instead of a ~76 MB vmlinux,
// and the section's digest is the key every module action of one vmlinux shares.
#ifndef KFARM_KBUILD_BTF_BASE_H_
#define KFARM_KBUILD_BTF_BASE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kfarm {

// NOT_FOUND naming the file when it has no .BTF section (or it is empty).
absl::StatusOr<std::string> ExtractBtf(const std::string& elf_path);

// The vmlinux link writes the base BTF well before vmlinux: link-vmlinux.sh encodes it into an
// object that the final link copies into vmlinux unchanged, then goes on with kallsyms and two or
// three more links — about 2 s on the fixtures. The object and the kallsyms file that follows it
// are, per kernel line:
struct EarlyBase {
  const char* base;  // Holds the .BTF the final link copies.
  const char* next;  // Written by the step after it.
};
inline constexpr EarlyBase kEarlyBases[] = {
    {".tmp_vmlinux1.btf.o", ".tmp_vmlinux1.syms"},          // 6.8 .. 7.x
    {".btf.vmlinux.bin.o", ".tmp_vmlinux.kallsyms1.syms"},  // 6.1
};
// The early base the link that began at `link_start` in `tree` has written, or "": both files
// exist, the base no older than the link, the next file no older than the base (the script moved
// on, so the base is whole). A caller must still confirm it against vmlinux's own base.
std::string EarlyBaseWritten(const std::string& tree, absl::Time link_start);

}  // namespace kfarm

#endif  // KFARM_KBUILD_BTF_BASE_H_
