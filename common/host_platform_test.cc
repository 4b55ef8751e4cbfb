#include "common/host_platform.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(HostPlatformTest, MachinesGetTheLexiconsIsaNames) {
  EXPECT_EQ(IsaOfMachine("x86_64"), "x86-64");
  EXPECT_EQ(IsaOfMachine("aarch64"), "arm-a64");
  EXPECT_EQ(IsaOfMachine("i686"), "x86-32");
  EXPECT_EQ(IsaOfMachine("ppc64le"), "power-isa-le");
  EXPECT_EQ(IsaOfMachine("riscv64"), "riscv64");  // Not in the lexicon: as uname says it.
  EXPECT_FALSE(HostIsa().empty());
}

TEST(HostPlatformTest, FindsTheFirstExecutableOnThePath) {
  char tmpl[] = "/tmp/kfarm-path-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ASSERT_EQ(mkdir((dir + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/b").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/c").c_str(), 0755), 0);
  auto make = [&](const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\n";
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  };
  make(dir + "/a/tool", 0644);  // Not executable: skipped.
  make(dir + "/b/tool", 0755);
  make(dir + "/c/tool", 0755);
  ASSERT_EQ(mkdir((dir + "/a/dir-tool").c_str(), 0755), 0);  // A directory: skipped.
  const std::string path = dir + "/a::" + dir + "/b:" + dir + "/c";
  EXPECT_EQ(FindExecutable("tool", path), dir + "/b/tool");
  EXPECT_EQ(FindExecutable("dir-tool", path), "");
  EXPECT_EQ(FindExecutable("absent", path), "");
  EXPECT_EQ(FindExecutable(dir + "/c/tool", ""), dir + "/c/tool");  // A path is taken as it is.
  EXPECT_EQ(FindExecutable(dir + "/a/tool", path), "");
  EXPECT_EQ(FindExecutable("", path), "");
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace kfarm
