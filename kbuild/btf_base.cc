#include "kbuild/btf_base.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {

absl::StatusOr<std::string> ExtractBtf(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE) return absl::InternalError("libelf is unusable");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  auto done = [&](absl::StatusOr<std::string> r) {
    if (elf != nullptr) elf_end(elf);
    ::close(fd);
    return r;
  };
  size_t shstrndx = 0;
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0) {
    return done(absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file: ", elf_errmsg(-1))));
  }
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name == nullptr || std::strcmp(name, ".BTF") != 0) continue;
    std::string out;
    for (Elf_Data* data = elf_getdata(scn, nullptr); data != nullptr; data = elf_getdata(scn, data)) {
      if (data->d_buf != nullptr) out.append(static_cast<const char*>(data->d_buf), data->d_size);
    }
    if (out.empty()) break;
    return done(out);
  }
  return done(absl::NotFoundError(absl::StrCat(
      path, " has no .BTF section: module BTF cannot be generated without it (is "
            "CONFIG_DEBUG_INFO_BTF set, and did the vmlinux link finish?)")));
}

std::string EarlyBaseWritten(const std::string& tree, absl::Time link_start) {
  for (const EarlyBase& e : kEarlyBases) {
    struct stat base, next;
    if (::stat((tree + "/" + e.base).c_str(), &base) != 0 ||
        ::stat((tree + "/" + e.next).c_str(), &next) != 0) {
      continue;
    }
    const absl::Time written = absl::TimeFromTimespec(base.st_mtim);
    if (written >= link_start && absl::TimeFromTimespec(next.st_mtim) >= written) return e.base;
  }
  return "";
}

}  // namespace kfarm
