#include "kbuild/btf_base.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

void Touch(const std::string& path, absl::Time t) {
  std::ofstream(path) << "x";
  const timespec ts = absl::ToTimespec(t);
  const timespec times[2] = {ts, ts};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// The early base counts only when this link wrote it and has moved on past it: a file left by
// an earlier link, or one the script may still be writing, is not read.
TEST(EarlyBaseTest, OnlyAWholeBaseFromThisLinkCounts) {
  TempDir dir;
  const std::string tree = dir.path();
  const absl::Time start = absl::FromUnixSeconds(1'800'000'000);
  const std::string base = tree + "/.tmp_vmlinux1.btf.o", next = tree + "/.tmp_vmlinux1.syms";
  EXPECT_EQ(EarlyBaseWritten(tree, start), "");

  Touch(base, start - absl::Seconds(60));  // An earlier link's files.
  Touch(next, start - absl::Seconds(59));
  EXPECT_EQ(EarlyBaseWritten(tree, start), "");

  Touch(base, start + absl::Seconds(5));  // This link's base; the next step's file is old.
  EXPECT_EQ(EarlyBaseWritten(tree, start), "");

  Touch(next, start + absl::Seconds(5) + absl::Milliseconds(60));  // The script went on.
  EXPECT_EQ(EarlyBaseWritten(tree, start), ".tmp_vmlinux1.btf.o");
}

TEST(EarlyBaseTest, SixOnesLinkNamesItsFilesOtherwise) {
  TempDir dir;
  const absl::Time start = absl::FromUnixSeconds(1'800'000'000);
  Touch(dir.path() + "/.btf.vmlinux.bin.o", start + absl::Seconds(3));
  Touch(dir.path() + "/.tmp_vmlinux.kallsyms1.syms", start + absl::Seconds(4));
  EXPECT_EQ(EarlyBaseWritten(dir.path(), start), ".btf.vmlinux.bin.o");
}

}  // namespace
}  // namespace kfarm
