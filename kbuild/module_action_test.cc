#include "kbuild/module_action.h"

#include <cstdlib>
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
  m.dir = "/tmp/linux";
  m.ko = "net/ipv4/tcp_cubic.ko";
  EXPECT_TRUE(ParseLdCommand(kLd, &m).ok());
  EXPECT_TRUE(ParseBtfCommand(kBtf, KbuildEnv(), &m).ok());
  return m;
}

TEST(ModuleActionTest, GoldenScriptsAndInputs) {
  ModfinalToolchain tc{"GNU ld (GNU Binutils for Debian) 2.40", "GNU objcopy 2.40", "v1.24", "x86-64", true};
  EXPECT_EQ(ModuleScript(Cubic(), tc, ModuleStep::kLink), "set -e\n" + std::string(kLd) + "\n");
  EXPECT_EQ(ModuleScript(Cubic(), tc, ModuleStep::kBtf),
            "set -e\ncat .kfarm/linked.ko > net/ipv4/tcp_cubic.ko\n"
            "LLVM_OBJCOPY=\"objcopy\" pahole -J --btf_gen_floats --lang_exclude=rust "
            "--btf_base .kfarm/base.btf net/ipv4/tcp_cubic.ko\n"
            "./tools/bpf/resolve_btfids/resolve_btfids -b .kfarm/base.btf net/ipv4/tcp_cubic.ko\n");
  tc.drop_pahole_jobs = false;
  EXPECT_THAT(ModuleScript(Cubic(), tc, ModuleStep::kBtf), HasSubstr("--btf_gen_floats -j --lang_exclude"));
  EXPECT_THAT(ModuleInputs(Cubic(), ModuleStep::kLink),
              ::testing::ElementsAre(std::pair<std::string, bool>{"net/ipv4/tcp_cubic.o", false},
                                     std::pair<std::string, bool>{"net/ipv4/tcp_cubic.mod.o", false},
                                     std::pair<std::string, bool>{".module-common.o", false},
                                     std::pair<std::string, bool>{"scripts/module.lds", false}));
  EXPECT_THAT(ModuleInputs(Cubic(), ModuleStep::kBtf),
              ::testing::ElementsAre(std::pair<std::string, bool>{
                  "./tools/bpf/resolve_btfids/resolve_btfids", true}));
}

TEST(ModuleActionTest, DigestDependsOnBaseAndToolsNotOnTheClient) {
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", "x86-64", true};
  ActionSpec a = ModuleActionSpec(Cubic(), tc, ModuleStep::kBtf);
  a.input_root = Digest::Of("root with base A");
  ActionSpec b = a;
  b.input_root = Digest::Of("root with base B");
  EXPECT_NE(BuildAction(a).digest, BuildAction(b).digest);
  ModfinalToolchain other = tc;
  other.pahole_version = "v1.27";
  ActionSpec c = ModuleActionSpec(Cubic(), other, ModuleStep::kBtf);
  c.input_root = a.input_root;
  EXPECT_NE(BuildAction(a).digest, BuildAction(c).digest);
  ActionSpec again = ModuleActionSpec(Cubic(), tc, ModuleStep::kBtf);
  again.input_root = a.input_root;
  EXPECT_EQ(BuildAction(a).digest, BuildAction(again).digest);
  EXPECT_THAT(a.platform, ::testing::Contains(std::pair<std::string, std::string>{"kfarm.tool.pahole", "v1.24"}));
  // A tree built on another machine kind runs its own tools: only workers of that ISA may.
  ModfinalToolchain arm = tc;
  arm.isa = "arm-a64";
  for (ModuleStep step : {ModuleStep::kLink, ModuleStep::kBtf}) {
    ActionSpec x86 = ModuleActionSpec(Cubic(), tc, step);
    ActionSpec a64 = ModuleActionSpec(Cubic(), arm, step);
    EXPECT_THAT(a64.platform, ::testing::Contains(std::pair<std::string, std::string>{"ISA", "arm-a64"}));
    x86.input_root = a64.input_root = a.input_root;
    EXPECT_NE(BuildAction(x86).digest, BuildAction(a64).digest);
  }
  // Another client: the same tree at another path, another user's environment. Every client
  // of a farm must reach the same cache entries.
  ModuleRecipe elsewhere = Cubic();
  elsewhere.dir = "/home/someone/src/linux-6.12";
  setenv("HOME", "/home/someone", 1);
  setenv("PWD", elsewhere.dir.c_str(), 1);
  for (ModuleStep step : {ModuleStep::kLink, ModuleStep::kBtf}) {
    ActionSpec here = ModuleActionSpec(Cubic(), tc, step);
    ActionSpec there = ModuleActionSpec(elsewhere, tc, step);
    here.input_root = there.input_root = a.input_root;
    EXPECT_EQ(BuildAction(here).digest, BuildAction(there).digest);
  }
}

TEST(ModuleActionTest, TheLinkNeedsNeitherPaholeNorTheBase) {
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", "x86-64", true};
  ActionSpec link = ModuleActionSpec(Cubic(), tc, ModuleStep::kLink);
  EXPECT_THAT(link.platform, ::testing::Not(::testing::Contains(
                                 std::pair<std::string, std::string>{"kfarm.tool.pahole", "v1.24"})));
  EXPECT_THAT(link.platform, ::testing::Contains(
                                 std::pair<std::string, std::string>{"kfarm.tool.ld", "ld 2.40"}));
  // The BTF step does not link: a worker's ld does not matter to it.
  EXPECT_THAT(ModuleActionSpec(Cubic(), tc, ModuleStep::kBtf).platform,
              ::testing::Not(::testing::Contains(
                  std::pair<std::string, std::string>{"kfarm.tool.ld", "ld 2.40"})));
}

// 7.2's recipe: gen-btf.sh reads its programs and flags from kbuild's environment.
constexpr char kBtf72[] =
    "if [ ! -f ./vmlinux ]; then printf \"Skipping BTF generation for %s due to unavailability of "
    "vmlinux\\n\" fs/ext2/ext2.ko 1>&2; else	 sh ./scripts/gen-btf.sh --btf_base ./vmlinux "
    "fs/ext2/ext2.ko; fi;";

ModuleRecipe Ext2On72() {
  ModuleRecipe m;
  m.dir = "/tmp/linux-7.2";
  m.ko = "fs/ext2/ext2.ko";
  KbuildEnv env{"pahole", "--btf_gen_floats -j2 --lang_exclude=rust",
                "./tools/bpf/resolve_btfids/resolve_btfids", "", "objcopy", "sh"};
  EXPECT_TRUE(ParseLdCommand("ld -r -m elf_x86_64 -T ./scripts/module.lds -o fs/ext2/ext2.ko "
                             "fs/ext2/ext2.o fs/ext2/ext2.mod.o .module-common.o", &m).ok());
  absl::Status s = ParseBtfCommand(kBtf72, env, &m);
  EXPECT_TRUE(s.ok()) << s;
  m.config_lines = "";
  return m;
}

TEST(ModuleActionTest, GenBtfScriptRunsHermeticallyFromKbuildsEnvironment) {
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", "x86-64", true};
  ModuleRecipe m = Ext2On72();
  EXPECT_EQ(m.btf, ModuleRecipe::Btf::kScript);
  EXPECT_EQ(m.btf_base, "./vmlinux");
  EXPECT_EQ(ModuleScript(m, tc, ModuleStep::kBtf),
            "set -e\ncat .kfarm/linked.ko > fs/ext2/ext2.ko\n"
            "sh scripts/gen-btf.sh --btf_base .kfarm/base.btf fs/ext2/ext2.ko\n");
  ActionSpec s = ModuleActionSpec(m, tc, ModuleStep::kBtf);
  auto env = [&](const std::string& name) {
    for (const auto& [k, v] : s.environment) {
      if (k == name) return v;
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(env("PAHOLE_FLAGS"), "--btf_gen_floats --lang_exclude=rust");  // -j2 dropped.
  EXPECT_EQ(env("RESOLVE_BTFIDS"), "./tools/bpf/resolve_btfids/resolve_btfids");
  EXPECT_EQ(env("OBJCOPY"), "objcopy");
  EXPECT_EQ(env("objtree"), kScriptObjtree);
  EXPECT_EQ(env("KBUILD_VERBOSE"), "<unset>");
  EXPECT_THAT(ModuleInputs(m, ModuleStep::kBtf),
              ::testing::ElementsAre(
                  std::pair<std::string, bool>{"./tools/bpf/resolve_btfids/resolve_btfids", true},
                  std::pair<std::string, bool>{"./scripts/gen-btf.sh", false}));
}

TEST(ModuleActionTest, PathsOutsideMakesDirectoryMoveIntoTheRoot) {
  // 7.x with M=: make runs in the module's directory, the kernel's files are absolute.
  ModuleRecipe m;
  m.dir = "/home/u/drv";
  m.ko = "hello.ko";
  ASSERT_TRUE(ParseLdCommand("ld -r -m elf_x86_64 -T /usr/src/linux/scripts/module.lds -o hello.ko "
                             "hello.o hello.mod.o .module-common.o", &m).ok());
  EXPECT_EQ(InRoot(m, "/usr/src/linux/scripts/module.lds"), ".kfarm/root/usr/src/linux/scripts/module.lds");
  EXPECT_EQ(InRoot(m, "/home/u/drv/sub/a.o"), "sub/a.o");
  EXPECT_EQ(InRoot(m, "./hello.o"), "hello.o");
  ModfinalToolchain tc{"ld 2.40", "objcopy 2.40", "v1.24", "x86-64", true};
  EXPECT_EQ(ModuleScript(m, tc, ModuleStep::kLink),
            "set -e\nld -r -m elf_x86_64 -T .kfarm/root/usr/src/linux/scripts/module.lds -o "
            "hello.ko hello.o hello.mod.o .module-common.o\n");
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
