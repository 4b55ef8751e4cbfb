// kbuild's commands as make expands them are parsed to build module actions; a command kfarm
// cannot read must be refused, never crash or yield a recipe with an empty output.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kbuild/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  kfarm::ModuleRecipe link;
  link.dir = "/tree";
  if (kfarm::ParseLdCommand(text, &link).ok() && link.ld_objects.empty()) std::abort();
  kfarm::KbuildEnv env{"pahole", "--btf_gen_floats", "./tools/bpf/resolve_btfids/resolve_btfids",
                       "", "objcopy", "/bin/sh"};
  kfarm::ModuleRecipe btf;
  btf.dir = "/tree";
  kfarm::ParseBtfCommand(text, env, &btf).IgnoreError();
  kfarm::ShellQuote(text);
  return 0;
}
