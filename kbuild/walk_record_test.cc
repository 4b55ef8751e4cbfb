#include "kbuild/walk_record.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

// Times are set explicitly: files from "2020", make exiting in "2021", edits in "2022".
const absl::Time kBuilt = absl::FromUnixSeconds(1600000000);
const absl::Time kMakeStarted = absl::FromUnixSeconds(1609999000);
const absl::Time kMakeExited = absl::FromUnixSeconds(1610000000);
const absl::Time kEdited = absl::FromUnixSeconds(1650000000);

void SetTime(const std::string& path, absl::Time t) {
  struct timespec ts[2] = {absl::ToTimespec(t), absl::ToTimespec(t)};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0) << path;
}

// A small kbuild tree as `make modules` leaves it: configuration, makefiles, one object with its
// .cmd file (a source, a header, a config stamp that exists and one that does not), and a
// configured tool.
class WalkRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = dir_.path() + "/linux";
    bin_ = dir_.path() + "/bin";
    for (const char* d : {"", "/scripts", "/arch/x86", "/include/config", "/drivers/x"}) {
      std::filesystem::create_directories(tree_ + d);
    }
    std::filesystem::create_directories(bin_);
    Write("/bin/gcc", "#!/bin/sh\n", /*in_tree=*/false);
    ::chmod((bin_ + "/gcc").c_str(), 0755);
    Write("/Makefile", "all:\n");
    Write("/scripts/Makefile.build", "# build\n");
    Write("/arch/x86/Makefile", "# x86\n");
    Write("/.config", "CONFIG_X=m\n");
    Write("/include/config/auto.conf", "CONFIG_X=m\n");
    Write("/include/config/auto.conf.cmd",
          "deps_config := \\\n\tdrivers/x/Kconfig \\\n\tKconfig\n\n"
          "ifneq \"$(CC)\" \"gcc\"\ninclude/config/auto.conf: FORCE\nendif\n"
          "ifneq \"$(SRCARCH)\" \"x86\"\ninclude/config/auto.conf: FORCE\nendif\n");
    Write("/Kconfig", "source \"drivers/x/Kconfig\"\n");
    Write("/drivers/x/Kconfig", "config X\n");
    Write("/drivers/x/Makefile", "obj-m += x.o\n");
    Write("/drivers/x/x.c", "int x;\n");
    Write("/drivers/x/x.h", "extern int x;\n");
    Write("/include/config/X", "");
    Write("/drivers/x/x.o", "object");
    Write("/drivers/x/.x.o.cmd",
          "savedcmd_drivers/x/x.o := gcc -c -o drivers/x/x.o drivers/x/x.c\n\n"
          "source_drivers/x/x.o := drivers/x/x.c\n\n"
          "deps_drivers/x/x.o := \\\n"
          "  drivers/x/x.h \\\n"
          "    $(wildcard include/config/X) \\\n"
          "    $(wildcard include/config/Y) \\\n\n"
          "drivers/x/x.o: $(deps_drivers/x/x.o)\n\n$(deps_drivers/x/x.o):\n\n"
          "drivers/x/x.o: $(wildcard ./tools/objtool/objtool)\n");
    inputs_.make_args = {"KBUILD_BUILD_TIMESTAMP=2026-01-01"};
    inputs_.env = {"HOME=/root", "PATH=" + bin_ + ":/usr/bin:/bin"};
  }

  void Write(const std::string& rel, const std::string& text, bool in_tree = true) {
    const std::string path = (in_tree ? tree_ : dir_.path()) + rel;
    std::ofstream(path, std::ios::binary) << text;
    SetTime(path, kBuilt);
  }
  void Edit(const std::string& rel, const std::string& text) {
    std::ofstream(tree_ + rel, std::ios::binary) << text;
    SetTime(tree_ + rel, kEdited);
  }
  void Save() { ASSERT_TRUE(SaveWalkRecord(tree_, inputs_, kMakeStarted, kMakeExited).ok()); }

  TempDir dir_;
  std::string tree_, bin_;
  WalkInputs inputs_;
};

TEST_F(WalkRecordTest, NoRecordMeansWalk) {
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("no record"));
}

TEST_F(WalkRecordTest, NothingChangedMeansNoWalk) {
  Save();
  int checked = 0;
  EXPECT_EQ(WhyWalk(tree_, inputs_, &checked), "");
  EXPECT_GE(checked, 10);  // Target, source, header, stamps, configuration, makefiles.
}

TEST_F(WalkRecordTest, EachChangeMakeWouldSeeNamesTheFile) {
  for (const char* rel : {"/drivers/x/x.c", "/drivers/x/x.h", "/include/config/X", "/.config",
                          "/include/config/auto.conf", "/drivers/x/Makefile", "/Makefile",
                          "/scripts/Makefile.build", "/arch/x86/Makefile", "/drivers/x/Kconfig",
                          "/drivers/x/x.o"}) {
    SCOPED_TRACE(rel);
    Save();
    ASSERT_EQ(WhyWalk(tree_, inputs_), "");
    Edit(rel, "changed\n");
    EXPECT_EQ(WhyWalk(tree_, inputs_), std::string(rel + 1) + " changed");
    SetTime(tree_ + rel, kBuilt);
  }
}

TEST_F(WalkRecordTest, AFileThatAppearsOrGoes) {
  Save();
  Edit("/include/config/Y", "");  // An option switched on: fixdep's stamp appears.
  EXPECT_EQ(WhyWalk(tree_, inputs_), "include/config/Y appeared");
  std::filesystem::remove(tree_ + "/include/config/Y");
  Edit("/drivers/x/Kbuild", "obj-m += y.o\n");  // Read before the Makefile, where it exists.
  EXPECT_EQ(WhyWalk(tree_, inputs_), "drivers/x/Kbuild appeared");
  std::filesystem::remove(tree_ + "/drivers/x/Kbuild");
  std::filesystem::remove(tree_ + "/drivers/x/x.h");
  EXPECT_EQ(WhyWalk(tree_, inputs_), "drivers/x/x.h is gone");
}

// An exported shell function is an environment variable with newlines in it.
TEST_F(WalkRecordTest, AnEnvironmentWithNewlinesIsKept) {
  inputs_.env.push_back("BASH_FUNC_f%%=() {  echo \"one\";\n echo two\n}");
  Save();
  EXPECT_EQ(WhyWalk(tree_, inputs_), "");
  inputs_.env.back() += " ";
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("(BASH_FUNC_f%%)"));
}

TEST_F(WalkRecordTest, ArgumentsEnvironmentAndToolsCount) {
  Save();
  WalkInputs other = inputs_;
  other.make_args.push_back("W=1");
  EXPECT_THAT(WhyWalk(tree_, other), HasSubstr("make arguments"));
  other = inputs_;
  other.env.push_back("KCFLAGS=-O3");
  EXPECT_THAT(WhyWalk(tree_, other), HasSubstr("environment differs from the last walk's (KCFLAGS)"));
  // The compiler replaced by another build of the same name.
  std::filesystem::remove(bin_ + "/gcc");
  Write("/bin/gcc", "#!/bin/sh\n# newer\n", /*in_tree=*/false);
  ::chmod((bin_ + "/gcc").c_str(), 0755);
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("configured with as CC changed"));
}

TEST_F(WalkRecordTest, ATreeStaleAsMakeExitedIsNotRecorded) {
  // The header was edited during the build, after the object was compiled.
  SetTime(tree_ + "/drivers/x/x.o", kMakeStarted + absl::Seconds(10));
  SetTime(tree_ + "/drivers/x/x.h", kMakeStarted + absl::Seconds(20));
  absl::Status s = SaveWalkRecord(tree_, inputs_, kMakeStarted, kMakeExited);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("drivers/x/x.h is newer than drivers/x/x.o"));
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("no record"));
}

// A target make modules does not build, older than a dependency from before the build (the boot
// image's version.o and the utsversion.h of the last vmlinux link): recorded as it is.
TEST_F(WalkRecordTest, ATargetLeftStaleBeforeTheBuildIsRecorded) {
  SetTime(tree_ + "/drivers/x/x.h", kBuilt + absl::Seconds(5));
  Save();
  EXPECT_EQ(WhyWalk(tree_, inputs_), "");
}

TEST_F(WalkRecordTest, AMissingDependencyIsNotRecorded) {
  std::filesystem::remove(tree_ + "/drivers/x/x.c");
  absl::Status s = SaveWalkRecord(tree_, inputs_, kMakeStarted, kMakeExited);
  EXPECT_THAT(s.message(), HasSubstr("drivers/x/x.c (a dependency of drivers/x/x.o"));
}

TEST_F(WalkRecordTest, ModulesAreModfinalsOwnOutput) {
  Write("/drivers/x/x.ko", "module");
  Write("/drivers/x/.x.ko.cmd", "savedcmd_drivers/x/x.ko := ld -r -o drivers/x/x.ko drivers/x/x.o\n");
  Save();
  Edit("/drivers/x/x.ko", "relinked");  // Written again by the next modfinal.
  EXPECT_EQ(WhyWalk(tree_, inputs_), "");
}

TEST_F(WalkRecordTest, AHostileRecordMeansWalk) {
  Save();
  std::ofstream(tree_ + "/.kfarm-walk", std::ios::app) << "rm -rf /\n";
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("unknown line \"rm -rf /\""));
  std::ofstream(tree_ + "/.kfarm-walk", std::ios::trunc) << "garbage";
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("is not a record"));
  ForgetWalkRecord(tree_);
  EXPECT_THAT(WhyWalk(tree_, inputs_), HasSubstr("no record"));
}

}  // namespace
}  // namespace kfarm
