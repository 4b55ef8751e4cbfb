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

// The vmlinux link writes the base BTF well before vmlinux: 6.12's link-vmlinux.sh puts it in
// .tmp_vmlinux1.btf.o (the final link copies that .BTF into vmlinux unchanged), then goes on with
// kallsyms (.tmp_vmlinux1.syms) and two or three more links — about 2 s on the fixture. Whether
// the link that began at `link_start` in `tree` has written it: both files exist, the first no
// older than the link, the second no older than the first (the script moved on, so the file is
// whole). A caller must still confirm it against vmlinux's own base once that is linked.
inline constexpr char kEarlyBaseFile[] = ".tmp_vmlinux1.btf.o";
bool EarlyBaseWritten(const std::string& tree, absl::Time link_start);

}  // namespace kfarm

#endif  // KFARM_KBUILD_BTF_BASE_H_
