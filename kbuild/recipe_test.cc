#include "kbuild/recipe.h"

#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

TEST(RecipeTest, ParsesSixTwelvesLines) {
  ModuleRecipe m;
  m.ko = "net/ipv4/tcp_cubic.ko";
  ASSERT_TRUE(ParseLdCommand("ld -r -m elf_x86_64 --build-id=sha1  -T scripts/module.lds -o "
                             "net/ipv4/tcp_cubic.ko net/ipv4/tcp_cubic.o net/ipv4/tcp_cubic.mod.o "
                             ".module-common.o", &m).ok());
  EXPECT_THAT(m.ld_objects, ::testing::ElementsAre("net/ipv4/tcp_cubic.o", "net/ipv4/tcp_cubic.mod.o",
                                                   ".module-common.o"));
  EXPECT_EQ(m.linker_script, "scripts/module.lds");
  EXPECT_EQ(m.ld_run, m.ld_command);
  ASSERT_TRUE(ParseBtfCommand(
      "if [ ! -f vmlinux ]; then printf \"Skipping\\n\" net/ipv4/tcp_cubic.ko 1>&2; else "
      "LLVM_OBJCOPY=\"objcopy\" pahole -J --btf_gen_floats -j --lang_exclude=rust --btf_base "
      "vmlinux net/ipv4/tcp_cubic.ko; ./tools/bpf/resolve_btfids/resolve_btfids -b vmlinux "
      "net/ipv4/tcp_cubic.ko; fi;", KbuildEnv(), &m).ok());
  EXPECT_EQ(m.btf, ModuleRecipe::Btf::kInline);
  EXPECT_EQ(m.objcopy, "objcopy");
  EXPECT_EQ(m.pahole, "pahole");
  EXPECT_THAT(m.pahole_flags, ::testing::ElementsAre("--btf_gen_floats", "-j", "--lang_exclude=rust"));
  EXPECT_EQ(m.btf_base, "vmlinux");
  EXPECT_EQ(m.resolve_btfids, "./tools/bpf/resolve_btfids/resolve_btfids");
}

TEST(RecipeTest, SixOnesLinkEndsInAnEmptyPostlink) {
  // 6.1: "...-o $@ $(filter %.o, $^); $(if $(ARCH_POSTLINK), $(MAKE) -f $(ARCH_POSTLINK) $@, true)"
  ModuleRecipe m;
  m.ko = "fs/fat/fat.ko";
  const std::string ld = "ld -r -m elf_x86_64 -T scripts/module.lds -o fs/fat/fat.ko fs/fat/fat.o fs/fat/fat.mod.o; true";
  ASSERT_TRUE(ParseLdCommand(ld, &m).ok());
  EXPECT_THAT(m.ld_objects, ::testing::ElementsAre("fs/fat/fat.o", "fs/fat/fat.mod.o"));
  EXPECT_EQ(m.ld_command, ld);  // What the .cmd file records.
  EXPECT_EQ(m.ld_run, "ld -r -m elf_x86_64 -T scripts/module.lds -o fs/fat/fat.ko fs/fat/fat.o fs/fat/fat.mod.o");
  // An architecture's postlink would run make on the worker: not understood.
  absl::Status s = ParseLdCommand(
      "ld -r -T scripts/module.lds -o fs/fat/fat.ko fs/fat/fat.o; make -f ./arch/powerpc/Makefile.postlink fs/fat/fat.ko", &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("postlink"));
}

TEST(RecipeTest, UnknownCommandsStopNamingTheModuleAndText) {
  ModuleRecipe m;
  m.ko = "fs/ext2/ext2.ko";
  absl::Status s = ParseBtfCommand("scripts/gen-btf.sh --btf_base vmlinux fs/ext2/ext2.ko", KbuildEnv(), &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("gen-btf.sh"));
  EXPECT_THAT(s.message(), HasSubstr("fs/ext2/ext2.ko"));
  // The script form without kbuild's tools in the environment.
  s = ParseBtfCommand("if [ ! -f ./vmlinux ]; then printf x; else sh ./scripts/gen-btf.sh --btf_base "
                      "./vmlinux fs/ext2/ext2.ko; fi;", KbuildEnv(), &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(ParseLdCommand("ld -o other.ko x.o", &m).ok());
}

TEST(RecipeTest, SavedCmdEscapesLikeKbuild) {
  EXPECT_EQ(SavedCmdLine("savedcmd_", "a.ko", "ld -o a.ko $x #y"), "savedcmd_a.ko := ld -o a.ko $$x $(pound)y\n");
  EXPECT_EQ(SavedCmdLine("cmd_", "a.ko", "ld"), "cmd_a.ko := ld\n");
}

TEST(RecipeTest, ConfigLinesAreOnlyThoseTheScriptReads) {
  EXPECT_EQ(ConfigLinesReadBy("is_enabled CONFIG_CPU_BIG_ENDIAN; grep CONFIG_X86_64",
                              "CONFIG_A=y\nCONFIG_X86_64=y\nCONFIG_CPU_BIG_ENDIAN_X=y\n"),
            "CONFIG_X86_64=y\n");
  EXPECT_EQ(ConfigLinesReadBy("no config", "CONFIG_A=y\n"), "");
}

class RecipeSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& modfinal) {
    std::filesystem::create_directories(dir_.path() + "/scripts");
    std::filesystem::create_directories(dir_.path() + "/include/config");
    std::ofstream(dir_.path() + "/include/config/kernel.release") << "7.2.13\n";
    std::ofstream(dir_.path() + "/scripts/Makefile.modfinal") << modfinal;
  }
  TempDir dir_;
};

constexpr char kRule72[] =
    "quiet_cmd_btf_ko = BTF [M] $@\n"
    "      cmd_btf_ko = \\\n\tif [ ! -f $(objtree)/vmlinux ]; then \\\n\t...\n"
    "\n"
    "%.ko: %.o %.mod.o .module-common.o $(ARCH_MODULE_LDS) FORCE\n"
    "\t+$(call if_changed,ld_ko_o)\n"
    "ifdef CONFIG_DEBUG_INFO_BTF_MODULES\n"
    "\t+$(if $(newer-prereqs),$(call cmd,btf_ko))\n"
    "endif\n"
    "\t+$(call cmd,check_tracepoint)\n"
    "\n"
    "targets += $(modules:%.o=%.ko)\n";

TEST_F(RecipeSourceTest, KnownRulesAreAccepted) {
  Write(kRule72);
  auto src = ReadRecipeSource(dir_.path(), dir_.path());
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ(src->kernel, "linux 7.2.13");
  EXPECT_EQ(src->Where("cmd_btf_ko"),
            "linux 7.2.13, " + dir_.path() + "/scripts/Makefile.modfinal:2 (cmd_btf_ko)");
  // 6.1's form.
  Write("$(modules): %.ko: %.o %.mod.o FORCE\n\t+$(call if_changed_except,ld_ko_o,vmlinux)\n"
        "ifdef CONFIG_DEBUG_INFO_BTF_MODULES\n\t+$(if $(newer-prereqs),$(call cmd,btf_ko))\nendif\n");
  EXPECT_TRUE(ReadRecipeSource(dir_.path(), dir_.path()).ok());
}

TEST_F(RecipeSourceTest, AnUnknownLineStopsNamingVersionMakefileAndLine) {
  std::string altered = kRule72;
  altered.replace(altered.find("\t+$(call cmd,check_tracepoint)"), 30, "\t+$(call cmd,sign_ko)");
  Write(altered);
  auto src = ReadRecipeSource(dir_.path(), dir_.path());
  ASSERT_EQ(src.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(src.status().message(), HasSubstr("linux 7.2.13"));
  EXPECT_THAT(src.status().message(), HasSubstr("scripts/Makefile.modfinal:11"));
  EXPECT_THAT(src.status().message(), HasSubstr("+$(call cmd,sign_ko)"));
  // A link kfarm does not know is as unknown as an extra line.
  altered = kRule72;
  altered.replace(altered.find("if_changed,ld_ko_o"), 18, "if_changed,ld_ko_lto");
  Write(altered);
  EXPECT_THAT(ReadRecipeSource(dir_.path(), dir_.path()).status().message(), HasSubstr("Makefile.modfinal:7:"));
  Write("all:\n\t@:\n");
  EXPECT_THAT(ReadRecipeSource(dir_.path(), dir_.path()).status().message(), HasSubstr("no rule for %.ko"));
}

}  // namespace
}  // namespace kfarm
