// Distro scale with the fixture's real modules, on a farm of real processes:
//  5. the fixture's modules replicated under distinct names (like the thousands of modules of a
//     distro kernel: distinct actions, shared toolchain inputs and base BTF) at 1k, 2k and 4k
//     actions: wall time, scheduler CPU per action (cost must grow linearly), bytes moved per
//     module;
//  6. the base BTF with and without cache affinity: 8 workers, the modules arriving two at a
//     time (as when the farm follows make): how many workers fetched the base, and bytes fetched.
// Usage: distro_bench --tree=/tmp/kfarm-kernel-tree [--make_args=...] [--counts=1000,2000,4000]
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/bench_farm.h"
#include "common/file_util.h"
#include "common/input_tree.h"
#include "kbuild/module_action_builder.h"
#include "common/execution_client.h"
#include "kbuild/modules_make.h"
#include "kbuild/recipe.h"

ABSL_FLAG(std::string, tree, "", "A kernel tree with compiled objects and vmlinux");
ABSL_FLAG(std::vector<std::string>, make_args, {}, "Passed to make, e.g. KBUILD_BUILD_TIMESTAMP=...");
ABSL_FLAG(std::vector<std::string>, counts, (std::vector<std::string>{"1000", "2000", "4000"}),
          "Module counts");
ABSL_FLAG(int, workers, 2, "Workers (1 slot each) for the module counts");
ABSL_FLAG(int, clients, 64, "Concurrent client streams");
ABSL_FLAG(std::string, sandbox, "bubblewrap", "Worker sandbox");

namespace kfarm {
namespace {

// The module under `prefix`: its own files (.ko, .o, .mod.o) renamed, shared ones (the common
// object, the linker script, tools) kept, as another module of the same kernel would be.
ModuleRecipe Renamed(const ModuleRecipe& m, const std::string& prefix) {
  const std::string stem = m.ko.substr(0, m.ko.size() - 3);
  auto own = [&](const std::string& p) { return absl::StartsWith(p, stem + "."); };
  ModuleRecipe r = m;
  r.ko = prefix + m.ko;
  for (std::string& o : r.ld_objects) {
    if (own(o)) o = prefix + o;
  }
  for (std::string* cmd : {&r.ld_command, &r.ld_run}) {
    std::vector<std::string> words = absl::StrSplit(*cmd, ' ');
    for (std::string& w : words) {
      if (own(w)) w = prefix + w;
    }
    *cmd = absl::StrJoin(words, " ");
  }
  return r;
}

// Bytes sent over loopback on this machine: every RPC between the clients, the scheduler and the
// workers of the benchmark's farm, nothing else running.
int64_t LoopbackBytes() {
  std::ifstream in("/sys/class/net/lo/statistics/tx_bytes");
  int64_t n = 0;
  in >> n;
  return n;
}

struct Prepared {
  std::vector<Digest> actions;
  std::vector<BlobSource> blobs;
};

int Run() {
  const std::string tree = absl::GetFlag(FLAGS_tree);
  if (tree.empty()) {
    std::fprintf(stderr, "distro_bench: --tree is required\n");
    return 2;
  }
  const std::string bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  const std::string dir = std::filesystem::temp_directory_path() / "kfarm-distro-bench";
  std::filesystem::remove_all(dir);

  // kbuild's recipes, from the tree.
  auto make = ModulesMake::Start(tree, "", 2, absl::GetFlag(FLAGS_make_args));
  std::vector<ModuleRecipe> recipes;
  for (bool finished = false; make.ok() && !finished;) {
    auto batch = (*make)->Next(absl::Seconds(1), &finished);
    if (!batch.ok()) {
      std::fprintf(stderr, "distro_bench: %s\n", std::string(batch.status().message()).c_str());
      return 1;
    }
    recipes.insert(recipes.end(), batch->begin(), batch->end());
  }
  if (!make.ok() || recipes.empty() || !recipes[0].has_btf()) {
    std::fprintf(stderr, "distro_bench: no modules with BTF captured from %s\n", tree.c_str());
    return 1;
  }
  ModuleActionBuilder builder(nullptr);
  std::vector<BlobSource> base_and_files;
  if (!builder.LoadBase(PathOf(recipes[0], recipes[0].btf_base), &base_and_files).ok()) return 1;
  // Each module is two actions, as in modfinal: its link, then its BTF step on the linked module
  // (learned once from the farm; a renamed module links to the same bytes).
  std::vector<Digest> links;
  for (const auto& m : recipes) {
    auto a = builder.Build(m, ModuleStep::kLink, Digest(), &base_and_files);
    if (!a.ok()) return 1;
    links.push_back(a->digest);
  }
  const ModfinalToolchain tc = builder.toolchain();
  int64_t input_bytes = 0;  // What the modules read, the base excluded, summed over modules.
  for (const auto& m : recipes) {
    for (ModuleStep step : {ModuleStep::kLink, ModuleStep::kBtf}) {
      for (const auto& [path, exec] : ModuleInputs(m, step)) {
        std::error_code ec;
        input_bytes += static_cast<int64_t>(std::filesystem::file_size(PathOf(m, path), ec));
      }
    }
  }
  absl::flat_hash_map<std::string, Digest> digests;  // File read -> digest.
  for (const auto& b : base_and_files) {
    if (!b.path.empty()) digests[b.path] = b.digest;
  }
  std::vector<Digest> linked(recipes.size());  // Each original module's link output.
  std::vector<Digest> originals;               // Every original action, links then BTF steps.
  // Runs the original links once on `address` and builds the BTF steps from their outputs.
  auto learn_linked = [&](const std::string& address) -> bool {
    if (!originals.empty()) return true;
    ExecutionClient exec(DialRemote(address), "");
    std::vector<BlobSource> btf_blobs;
    std::vector<Digest> btfs;
    for (size_t i = 0; i < recipes.size(); ++i) {
      auto r = exec.Execute(links[i], ExecuteOptions());
      if (!r.ok() || r->result().output_files_size() != 1) return false;
      auto d = Digest::FromProto(r->result().output_files(0).digest());
      if (!d.ok()) return false;
      linked[i] = *d;
      auto a = builder.Build(recipes[i], ModuleStep::kBtf, linked[i], &btf_blobs);
      if (!a.ok()) return false;
      btfs.push_back(a->digest);
    }
    if (!CasClient(DialRemote(address), "").UploadMissing(btf_blobs).ok()) return false;
    base_and_files.insert(base_and_files.end(), btf_blobs.begin(), btf_blobs.end());
    // The BTF steps' own inputs (resolve_btfids, pahole's config): the replicas read them too.
    for (const auto& b : btf_blobs) {
      if (!b.path.empty()) digests[b.path] = b.digest;
    }
    originals = links;
    originals.insert(originals.end(), btfs.begin(), btfs.end());
    return true;
  };

  auto replicate = [&](int n, const std::string& tag) {
    Prepared p;
    for (ModuleStep step : {ModuleStep::kLink, ModuleStep::kBtf}) {
      for (int k = 0; k < n; ++k) {
        const ModuleRecipe& m = recipes[k % recipes.size()];
        const std::string prefix = absl::StrFormat("%s/r%d/", tag, k / recipes.size());
        ModuleRecipe r = Renamed(m, prefix);
        InputTree t;
        for (const auto& [path, exec] : ModuleInputs(r, step)) {
          std::string original = absl::StartsWith(path, prefix) ? path.substr(prefix.size()) : path;
          const std::string file = PathOf(m, original);
          auto known = digests.find(file);
          if (known == digests.end()) {
            std::fprintf(stderr, "no digest for %s, an input of a replicated module\n",
                         file.c_str());
            std::exit(1);
          }
          if (absl::Status s = t.AddFile(InRoot(r, path), known->second, exec); !s.ok()) {
            std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
            std::exit(1);
          }
        }
        if (step == ModuleStep::kBtf) {
          t.AddFile(kBaseBtfPath, builder.base_digest(), false).IgnoreError();
          t.AddFile(kLinkedKoPath, linked[k % recipes.size()], false).IgnoreError();
          if (r.btf == ModuleRecipe::Btf::kScript) {
            t.AddFile(kScriptConfigPath, Digest::Of(r.config_lines), false).IgnoreError();
          }
        }
        InputTree::Built built = t.Build();
        for (auto& [d, bytes] : built.directories) {
          p.blobs.push_back({d, "", std::make_shared<const std::string>(bytes)});
        }
        ActionSpec spec = ModuleActionSpec(r, tc, step);
        spec.input_root = built.root;
        BuiltAction a = BuildAction(spec);
        p.blobs.insert(p.blobs.end(), a.blobs.begin(), a.blobs.end());
        p.actions.push_back(a.digest);
      }
    }
    return p;
  };

  int failures = 0;
  const std::vector<std::string> worker_args = {"--sandbox=" + absl::GetFlag(FLAGS_sandbox)};
  struct Row {
    int n;
    double wall, cpu;
    int64_t fetched, uploaded, wire;
  };
  std::vector<Row> rows;
  {
    auto farm = StartFarm(bin, dir + "/scale", absl::GetFlag(FLAGS_workers), "", worker_args);
    const std::string address = absl::StrCat("127.0.0.1:", farm->port);
    CasClient cas(DialRemote(address), "");
    if (!cas.UploadMissing(base_and_files).ok() || !learn_linked(address)) return 1;
    RunAll(address, originals, 2, &failures);  // Warm-up: workers connected, toolchain inputs cached.
    for (const std::string& c : absl::GetFlag(FLAGS_counts)) {
      const int n = std::stoi(c);
      Prepared p = replicate(n, absl::StrCat("d", n));
      if (!cas.UploadMissing(p.blobs).ok()) return 1;
      const double cpu0 = CpuSeconds(farm->scheduler);
      const int64_t fetched0 = farm->CachedBytes(), stored0 = farm->StoredBytes();
      const int64_t wire0 = LoopbackBytes();
      double wall = RunAll(address, p.actions, absl::GetFlag(FLAGS_clients), &failures);
      rows.push_back({n, wall, CpuSeconds(farm->scheduler) - cpu0, farm->CachedBytes() - fetched0,
                      farm->StoredBytes() - stored0, LoopbackBytes() - wire0});
    }
  }

  // Affinity: 8 idle workers, two modules in flight at a time.
  struct Affinity {
    bool on;
    int holders;
    int64_t bytes;
  };
  std::vector<Affinity> affinity;
  const Digest base = builder.base_digest();
  for (bool on : {true, false}) {
    auto farm = StartFarm(bin, dir + (on ? "/aff-on" : "/aff-off"), 8,
                          on ? "" : "disable_cache_affinity: true", worker_args);
    const std::string address = absl::StrCat("127.0.0.1:", farm->port);
    CasClient cas(DialRemote(address), "");
    if (!cas.UploadMissing(base_and_files).ok() || !learn_linked(address)) return 1;
    RunAll(address, originals, 2, &failures);
    int holders = 0;
    for (int w = 0; w < 8; ++w) {
      const std::string hex = base.hex();
      holders += std::filesystem::exists(absl::StrCat(farm->dir, "/w", w, "/cache/plain/blobs/",
                                                      hex.substr(0, 2), "/", hex, "-", base.size()));
    }
    affinity.push_back({on, holders, farm->CachedBytes()});
  }
  std::filesystem::remove_all(dir);

  std::printf("kfarm at distro scale: the fixture's %zu modules replicated under distinct names "
              "(%d workers x 1 slot, %s, %u cores; base BTF %.2f MiB; inputs %.0f KiB per module "
              "besides it)\n\n",
              recipes.size(), absl::GetFlag(FLAGS_workers), absl::GetFlag(FLAGS_sandbox).c_str(),
              std::thread::hardware_concurrency(), base.size() / 1048576.0,
              input_bytes / 1024.0 / recipes.size());
  std::printf("| %-52s | %-40s |\n", "measure", "result");
  std::printf("|%s|%s|\n", std::string(54, '-').c_str(), std::string(42, '-').c_str());
  for (const Row& r : rows) {
    std::printf("| %-52s | %-40s |\n",
                absl::StrFormat("%d modules: wall, scheduler CPU", r.n).c_str(),
                absl::StrFormat("%.1f s (%.1f ms/module), %.2f s (%.0f us/module)", r.wall,
                                1e3 * r.wall / r.n, r.cpu, 1e6 * r.cpu / r.n).c_str());
    std::printf("| %-52s | %-40s |\n",
                absl::StrFormat("%d modules: bytes per module over the wire", r.n).c_str(),
                absl::StrFormat("%.1f KiB (new in worker caches %.1f, in the CAS %.1f)",
                                r.wire / 1024.0 / r.n, r.fetched / 1024.0 / r.n,
                                r.uploaded / 1024.0 / r.n).c_str());
  }
  for (const Affinity& a : affinity) {
    std::printf("| %-52s | %-40s |\n",
                absl::StrFormat("%zu modules, 2 at a time, 8 workers, affinity %s", recipes.size(),
                                a.on ? "on" : "off").c_str(),
                absl::StrFormat("base BTF fetched by %d workers; %.1f MiB in all", a.holders,
                                a.bytes / 1048576.0).c_str());
  }
  std::printf("| %-52s | %-40d |\n", "failed executions", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kfarm::Run();
}
