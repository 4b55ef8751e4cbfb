#include "kbuild/module_action.h"

#include <fstream>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kbuild/recipe.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

// Real 6.12 lines, as the dry run captures them.
constexpr char kLd[] =
    "ld -r -m elf_x86_64 -z noexecstack --no-warn-rwx-segments --build-id=sha1  -T "
    "scripts/module.lds -o net/ipv4/tcp_cubic.ko net/ipv4/tcp_cubic.o net/ipv4/tcp_cubic.mod.o "
    ".module-common.o";
constexpr char kBtf[] =
    "if [ ! -f vmlinux ]; then printf \"Skipping BTF generation for %s due to unavailability of "
    "vmlinux\\n\" net/ipv4/tcp_cubic.ko 1>&2; else LLVM_OBJCOPY=\"objcopy\" pahole -J "
    "--btf_gen_floats -j --lang_exclude=rust --btf_base vmlinux net/ipv4/tcp_cubic.ko; "
    "./tools/bpf/resolve_btfids/resolve_btfids -b vmlinux net/ipv4/tcp_cubic.ko; fi;";

ModuleRecipe Cubic() {
  ModuleRecipe m;
  m.ko = "net/ipv4/tcp_cubic.ko";
  EXPECT_TRUE(ParseLdCommand(kLd, &m).ok());
  EXPECT_TRUE(ParseBtfCommand(kBtf, &m).ok());
  return m;
}

TEST(RecipeTest, ParsesKbuildLines) {
  ModuleRecipe m = Cubic();
  EXPECT_THAT(m.ld_objects, ::testing::ElementsAre("net/ipv4/tcp_cubic.o", "net/ipv4/tcp_cubic.mod.o",
                                                   ".module-common.o"));
  EXPECT_EQ(m.linker_script, "scripts/module.lds");
  EXPECT_EQ(m.objcopy, "objcopy");
  EXPECT_EQ(m.pahole, "pahole");
  EXPECT_THAT(m.pahole_flags, ::testing::ElementsAre("--btf_gen_floats", "-j", "--lang_exclude=rust"));
  EXPECT_EQ(m.btf_base, "vmlinux");
  EXPECT_EQ(m.resolve_btfids, "tools/bpf/resolve_btfids/resolve_btfids");
}

TEST(RecipeTest, UnknownRecipesStopNamingTheLine) {
  ModuleRecipe m;
  m.ko = "fs/ext2/ext2.ko";
  absl::Status s = ParseBtfCommand("scripts/gen-btf.sh --btf_base vmlinux fs/ext2/ext2.ko", &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("gen-btf.sh"));
  EXPECT_THAT(s.message(), HasSubstr("fs/ext2/ext2.ko"));
  EXPECT_FALSE(ParseLdCommand("ld -o other.ko x.o", &m).ok());
}

TEST(RecipeTest, SavedCmdEscapesLikeKbuild) {
  EXPECT_EQ(SavedCmdLine("a.ko", "ld -o a.ko $x #y", true), "savedcmd_a.ko := ld -o a.ko $$x $(pound)y\n");
  EXPECT_EQ(SavedCmdLine("a.ko", "ld", false), "cmd_a.ko := ld\n");
}

TEST(RecipeTest, BuildOrderKeepsCompilesJobsAheadOfLinks) {
  TempDir dir;
  std::ofstream(dir.path() + "/modules.order") << "fs/a.o\nfs/b.o\nnet/c.o\nlib/d-e.o\n";
  auto path = WriteBuildOrder(dir.path(), 2, dir.path() + "/order.mk");
  ASSERT_TRUE(path.ok()) << path.status();
  std::ifstream in(*path);
  std::string rules((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rules, "net/c.mod.o: | fs/a.ko\nlib/d-e.mod.o: | fs/b.ko\n");

  std::ofstream(dir.path() + "/modules.order") << "fs/a.o\nfs/odd name.o\n";
  path = WriteBuildOrder(dir.path(), 2, dir.path() + "/order2.mk");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "");  // Left in make's own order rather than quoted.
}

TEST(ModuleActionTest, GoldenScriptAndInputs) {
  ModfinalToolchain tc{"GNU ld (GNU Binutils for Debian) 2.40", "GNU objcopy 2.40", "v1.24", true};
  EXPECT_EQ(ModuleScript(Cubic(), tc),
            "set -e\n" + std::string(kLd) +
                "\nLLVM_OBJCOPY=\"objcopy\" pahole -J --btf_gen_floats --lang_exclude=rust "
                "--btf_base .kfarm/base.btf net/ipv4/tcp_cubic.ko\n"
                "./tools/bpf/resolve_btfids/resolve_btfids -b .kfarm/base.btf net/ipv4/tcp_cubic.ko\n");
  tc.drop_pahole_jobs = false;
  EXPECT_THAT(ModuleScript(Cubic(), tc), HasSubstr("--btf_gen_floats -j --lang_exclude"));
  EXPECT_THAT(ModuleInputs(Cubic()),
              ::testing::ElementsAre(std::pair<std::string, bool>{"net/ipv4/tcp_cubic.o", false},
                                     std::pair<std::string, bool>{"net/ipv4/tcp_cubic.mod.o", false},
                                     std::pair<std::string, bool>{".module-common.o", false},
                                     std::pair<std::string, bool>{"scripts/module.lds", false},
                                     std::pair<std::string, bool>{"tools/bpf/resolve_btfids/resolve_btfids", true}));
}

TEST(ModuleActionTest, DigestDependsOnBaseAndToolsNotOnTheClient) {
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", true};
  ActionSpec a = ModuleActionSpec(Cubic(), tc);
  a.input_root = Digest::Of("root with base A");
  ActionSpec b = a;
  b.input_root = Digest::Of("root with base B");
  EXPECT_NE(BuildAction(a).digest, BuildAction(b).digest);
  ModfinalToolchain other = tc;
  other.pahole_version = "v1.27";
  ActionSpec c = ModuleActionSpec(Cubic(), other);
  c.input_root = a.input_root;
  EXPECT_NE(BuildAction(a).digest, BuildAction(c).digest);
  ActionSpec again = ModuleActionSpec(Cubic(), tc);
  again.input_root = a.input_root;
  EXPECT_EQ(BuildAction(a).digest, BuildAction(again).digest);
  EXPECT_THAT(a.platform, ::testing::Contains(std::pair<std::string, std::string>{"kfarm.tool.pahole", "v1.24"}));
}

TEST(ModuleActionTest, PipelinedStepsSplitTheSameCommands) {
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", true};
  const std::string all = ModuleScript(Cubic(), tc);
  const std::string link = ModuleScript(Cubic(), tc, ModuleStep::kLink);
  const std::string btf = ModuleScript(Cubic(), tc, ModuleStep::kBtf);
  EXPECT_EQ(link, "set -e\n" + std::string(kLd) + "\n");
  // The BTF step works on its own copy of the linked module, then runs kAll's last two lines.
  EXPECT_THAT(btf, ::testing::StartsWith(
                       "set -e\ncat .kfarm/linked.ko > net/ipv4/tcp_cubic.ko\nLLVM_OBJCOPY="));
  EXPECT_EQ(all.substr(all.find("LLVM_OBJCOPY")), btf.substr(btf.find("LLVM_OBJCOPY")));
  EXPECT_THAT(ModuleInputs(Cubic(), ModuleStep::kLink),
              ::testing::Not(::testing::Contains(
                  std::pair<std::string, bool>{"tools/bpf/resolve_btfids/resolve_btfids", true})));
  EXPECT_THAT(ModuleInputs(Cubic(), ModuleStep::kBtf),
              ::testing::ElementsAre(
                  std::pair<std::string, bool>{"tools/bpf/resolve_btfids/resolve_btfids", true}));
  // The link does not wait for pahole: a worker without it may run it.
  EXPECT_THAT(ModuleActionSpec(Cubic(), tc, ModuleStep::kLink).platform,
              ::testing::Not(::testing::Contains(
                  std::pair<std::string, std::string>{"kfarm.tool.pahole", "v1.24"})));
}

TEST(ModuleActionTest, PaholeVersionGate) {
  EXPECT_TRUE(PaholeNeedsSerialEncoding("v1.24"));
  EXPECT_TRUE(PaholeNeedsSerialEncoding("v1.28"));
  EXPECT_FALSE(PaholeNeedsSerialEncoding("v1.29"));
  EXPECT_FALSE(PaholeNeedsSerialEncoding("v2.0"));
  EXPECT_TRUE(PaholeNeedsSerialEncoding("garbage"));
}

}  // namespace
}  // namespace kfarm
