#include "kbuild/modules_make.h"

#include <filesystem>
#include <fstream>

#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kbuild/recipe.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The parts of Kbuild.include and Makefile.modfinal the hooks meet, in each version's shape.
constexpr char kCommon[] =
    "PHONY := __modfinal\n"
    "__modfinal: a.ko\n\t@:\n"
    "newer-prereqs = $(filter-out $(PHONY),$?)\n"
    "CONFIG_DEBUG_INFO_BTF_MODULES := y\n"
    "PAHOLE := pahole\nOBJCOPY := objcopy\nCONFIG_SHELL := sh\n"
    "RESOLVE_BTFIDS := ./tools/resolve_btfids\n"
    "PAHOLE_FLAGS := --btf_gen_floats --btf_features=encode_force,var\n"
    "cmd_ld_ko_o = ld -r -T scripts/module.lds -o $@ $(filter %.o, $^)\n"
    "cmd_touch = touch $@\n"
    "a.o:\n\ttouch $@\n"
    "%.mod.o: FORCE\n\t$(call cmd,touch)\n"
    "PHONY += FORCE\nFORCE:\n.SECONDARY:\n";

constexpr char kSevenTwo[] =
    "cmd = @$(if $(cmd_$(1)),set -e; $(cmd_$(1)),:)\n"
    "cmd-check = $(filter-out $(strip $(savedcmd_$@)),$(strip $(cmd_$(1))))\n"
    "if_changed = $(if $(newer-prereqs)$(cmd-check),$(cmd); printf '%s\\n' 'savedcmd_$@ := x' > .$@.cmd,@:)\n"
    "cmd_btf_ko = if [ ! -f ./vmlinux ]; then printf x; else sh ./scripts/gen-btf.sh --btf_base ./vmlinux $@; fi;\n"
    "%.ko: %.o %.mod.o FORCE\n"
    "\t+$(call if_changed,ld_ko_o)\n"
    "\t+$(if $(newer-prereqs),$(call cmd,btf_ko))\n";

constexpr char kSixOne[] =
    "cmd = @set -e; $(cmd_$(1))\n"
    "cmd-check = $(filter-out $(strip $(cmd_$@)),$(strip $(cmd_$(1))))\n"
    "cmd_ld_ko_o += ; true\n"
    "cmd_btf_ko = if [ ! -f vmlinux ]; then printf x; else LLVM_OBJCOPY=\"$(OBJCOPY)\" $(PAHOLE) -J "
    "$(PAHOLE_FLAGS) --btf_base vmlinux $@; $(RESOLVE_BTFIDS) -b vmlinux $@; fi;\n"
    "if_changed_except = $(if $(newer-prereqs)$(cmd-check), $(cmd); printf '%s\\n' 'cmd_$@ := x' > .$@.cmd, @:)\n"
    "$(modules): %.ko: %.o %.mod.o FORCE\n"
    "\t+$(call if_changed_except,ld_ko_o,vmlinux)\n"
    "\t+$(if $(newer-prereqs),$(call cmd,btf_ko))\n";

class HooksTest : public ::testing::Test {
 protected:
  // Runs make with the kbuild-shaped makefile, then kfarm's hooks; returns the capture.
  std::string Run(const std::string& version_part) {
    const std::string d = dir_.path();
    std::ofstream(d + "/modfinal.mk") << kCommon << "modules := a.ko\n" << version_part
                                      << ".PHONY: $(PHONY)\n";
    std::ofstream(d + "/hooks.mk") << HooksMakefile(d + "/capture", "");
    std::ofstream(d + "/capture");
    const std::string cmd = "make -s -C " + d + " -f modfinal.mk -f hooks.mk __modfinal >" + d +
                            "/make.log 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadFile(d + "/make.log").value_or("");
    return ReadFile(d + "/capture").value_or("");
  }
  TempDir dir_;
};

TEST_F(HooksTest, SevenTwoLinkAndGenBtfAreCapturedNotRun) {
  const std::string c = Run(kSevenTwo);
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tld\tld -r -T scripts/module.lds -o a.ko a.o a.mod.o\n"));
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tbtf\tif [ ! -f ./vmlinux ]; then printf x; else sh "
                           "./scripts/gen-btf.sh --btf_base ./vmlinux a.ko; fi;\n"));
  // Commas survive: make splits a function's arguments before expanding them.
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tPAHOLE_FLAGS\t--btf_gen_floats --btf_features=encode_force,var\n"));
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tprefix\tsavedcmd_\n"));
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tdir\t" + dir_.path() + "\n"));
  // kbuild's other rules ran; the link and the BTF step did not, and no .cmd was written.
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/a.mod.o"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/a.ko"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/.a.ko.cmd"));
  // The capture happens on every run, whatever make thinks is current.
  EXPECT_THAT(Run(kSevenTwo), HasSubstr("\tld\t"));
}

TEST_F(HooksTest, SixOneLinkAndInlineBtfAreCapturedNotRun) {
  const std::string c = Run(kSixOne);
  EXPECT_THAT(c, HasSubstr("\tld\tld -r -T scripts/module.lds -o a.ko a.o a.mod.o ; true\n"));
  EXPECT_THAT(c, HasSubstr("\tbtf\tif [ ! -f vmlinux ]; then printf x; else LLVM_OBJCOPY=\"objcopy\" "
                           "pahole -J --btf_gen_floats --btf_features=encode_force,var --btf_base "
                           "vmlinux a.ko; ./tools/resolve_btfids -b vmlinux a.ko; fi;\n"));
  EXPECT_THAT(c, HasSubstr("KFARM\ta.ko\tprefix\tcmd_\n"));
  EXPECT_THAT(c, Not(HasSubstr("savedcmd_")));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/a.ko"));
}

TEST(BuildOrderTest, KeepsCompilesJobsAheadOfLinks) {
  EXPECT_EQ(BuildOrderRules({"fs/a.ko", "fs/b.ko", "net/c.ko", "lib/d-e.ko"}, 2),
            "net/c.mod.o: | fs/a.ko\nlib/d-e.mod.o: | fs/b.ko\n");
  EXPECT_EQ(BuildOrderRules({"fs/a.ko", "fs/odd name.ko"}, 1), "");  // make's own order, unquoted.
}

}  // namespace
}  // namespace kfarm
