#include "kbuild/make_env_cache.h"

#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::Contains;
using ::testing::Not;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A tree as the capture recipe leaves it: the files make read, and its environment.
class MakeEnvCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = dir_.path() + "/linux";
    std::filesystem::create_directories(tree_ + "/scripts");
    std::filesystem::create_directories(dir_.path() + "/bin");
    WriteText(tree_ + "/Makefile", "all:\n");
    WriteText(tree_ + "/.config", "CONFIG_X=y\n");
    WriteText(tree_ + "/scripts/cc-version.sh", "echo 12\n");
    gcc_ = dir_.path() + "/bin/gcc";
    WriteText(gcc_, "#!/bin/sh\n");
    ::chmod(gcc_.c_str(), 0755);
  }
  // What the recipe would have saved, then Commit.
  void Capture(const std::string& makeflags) {
    MakeEnvCache cache(tree_, {"KBUILD_BUILD_TIMESTAMP=x"});
    WriteText(cache.path() + ".files", "Makefile scripts/Kbuild.include\n");
    std::string env = "srctree=.";
    env += '\0';
    env += "CC=gcc -m64";
    env += '\0';
    env += "PATH=" + dir_.path() + "/bin";
    env += '\0';
    env += "MAKEFLAGS=" + makeflags;
    env += '\0';
    WriteText(cache.path() + ".env", env);
    ASSERT_TRUE(cache.Commit().ok());
    EXPECT_FALSE(std::filesystem::exists(cache.path() + ".env"));
  }
  std::optional<std::vector<std::string>> Load(std::vector<std::string> args = {
                                                   "KBUILD_BUILD_TIMESTAMP=x"}) {
    return MakeEnvCache(tree_, args).Load();
  }
  // Same bytes, a modification time a second on (file times tick coarsely: a rewrite within
  // the same tick as the capture could look unchanged to stat).
  void Touch(const std::string& path) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    times[1].tv_sec += 1;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  TempDir dir_;
  std::string tree_, gcc_;
};

TEST_F(MakeEnvCacheTest, GivesBackTheEnvironmentWithoutTheOldJobserver) {
  EXPECT_FALSE(Load().has_value());  // Nothing kept yet.
  Capture("s -j2 --jobserver-auth=fifo:/tmp/GMfifo1 --no-print-directory -- X=1");
  auto env = Load();
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(EnvValue(*env, "srctree"), ".");
  EXPECT_EQ(EnvValue(*env, "CC"), "gcc -m64");
  EXPECT_EQ(EnvValue(*env, "MAKEFLAGS"), "s -j2 --no-print-directory -- X=1");
}

TEST_F(MakeEnvCacheTest, AnyChangeToWhatTheMakefileReadsIsAMiss) {
  Capture("s");
  ASSERT_TRUE(Load().has_value());
  EXPECT_FALSE(Load({"KBUILD_BUILD_TIMESTAMP=y"}).has_value());  // Other make arguments.

  ::setenv("KFARM_TEST_VARIABLE", "1", 1);  // Another environment.
  EXPECT_FALSE(Load().has_value());
  ::unsetenv("KFARM_TEST_VARIABLE");
  ASSERT_TRUE(Load().has_value());

  for (const std::string& changed :
       {tree_ + "/Makefile", tree_ + "/.config", tree_ + "/scripts/cc-version.sh", gcc_}) {
    Capture("s");
    ASSERT_TRUE(Load().has_value());
    Touch(changed);
    EXPECT_FALSE(Load().has_value()) << changed;
  }
  // A makefile that did not exist when captured (Kbuild.include here) appearing is a change too.
  Capture("s");
  WriteText(tree_ + "/scripts/Kbuild.include", "\n");
  EXPECT_FALSE(Load().has_value());
}

TEST_F(MakeEnvCacheTest, RefusesACaptureWithoutTheKbuildExports) {
  MakeEnvCache cache(tree_, {});
  WriteText(cache.path() + ".files", "Makefile\n");
  WriteText(cache.path() + ".env", std::string("PATH=/bin") + '\0');
  EXPECT_FALSE(cache.Commit().ok());
  EXPECT_FALSE(cache.Load().has_value());
}

}  // namespace
}  // namespace kfarm
