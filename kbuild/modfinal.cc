#include "kbuild/modfinal.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/cas_client.h"
#include "common/execution_client.h"
#include "common/file_util.h"
#include "common/input_tree.h"
#include "common/status.h"
#include "common/tool_versions.h"
#include "kbuild/btf_base.h"
#include "kbuild/module_action.h"
#include "kbuild/module_hashes.h"
#include "kbuild/recipe.h"

namespace kfarm {
namespace {

// kbuild's own rules compile .mod.o and .module-common.o (and write their .cmd files); the
// final link and BTF are neutralised here because they run on the farm.
absl::Status CompileModObjects(const ModfinalOptions& o) {
  std::vector<std::string> args = {"make", "-C", o.tree, "-s", absl::StrCat("-j", o.jobs),
                                   "KBUILD_MODPOST_NOFINAL=", "modules", "if_changed_except=@:",
                                   "cmd_btf_ko=:"};
  args.insert(args.end(), o.make_args.begin(), o.make_args.end());
  std::vector<std::string> q;
  for (const auto& a : args) q.push_back(ShellQuote(a));
  std::string cmd = absl::StrJoin(q, " ");
  if (o.verbose) std::cout << cmd << "\n";
  if (std::system(cmd.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("compiling the .mod.o files failed: ", cmd));
  }
  return absl::OkStatus();
}

struct Prepared {
  const ModuleRecipe* recipe;
  BuiltAction action;
};

class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(2)) {}
  void Update(int done, int cached, int running, int failed) {
    if (!tty_) return;
    std::lock_guard<std::mutex> l(mu_);
    std::fprintf(stderr, "\r[%d/%zu] %d cached, %d running remotely, %d failed   ", done, total_,
                 cached, running, failed);
  }
  void Finish() {
    if (tty_) std::fprintf(stderr, "\r%80s\r", "");
  }
  std::mutex& mu() { return mu_; }

 private:
  size_t total_;
  bool tty_;
  std::mutex mu_;
};

}  // namespace

int RunModfinal(const ModfinalOptions& o) {
  auto fail = [](const absl::Status& s) {
    std::cerr << "kfarm modfinal: " << s.message() << "\n";
    return 1;
  };
  const absl::Time start = absl::Now();
  if (absl::Status s = CompileModObjects(o); !s.ok()) return fail(s);
  const absl::Time compiled = absl::Now();
  auto recipe = ReadTreeRecipe(o.tree, o.make_args);
  if (!recipe.ok()) return fail(recipe.status());
  const absl::Time recipe_read = absl::Now();

  // The raw base BTF: one blob for every module of this vmlinux, and part of every action key.
  std::string base_name;
  for (const auto& m : recipe->modules) {
    if (m.has_btf()) base_name = m.btf_base;
  }
  Digest base_digest;
  std::shared_ptr<const std::string> base;
  if (!base_name.empty()) {
    auto btf = ExtractBtf(o.tree + "/" + base_name);
    if (!btf.ok()) return fail(btf.status());
    base = std::make_shared<const std::string>(std::move(*btf));
    base_digest = Digest::Of(*base);
  }

  ModfinalToolchain tc;
  const ModuleRecipe& first = recipe->modules.front();
  tc.ld_version = ToolVersion(first.ld_command.substr(0, first.ld_command.find(' ')));
  tc.objcopy_version = ToolVersion(first.has_btf() ? first.objcopy : "objcopy");
  if (first.has_btf()) {
    tc.pahole_version = ToolVersion(first.pahole);
    tc.drop_pahole_jobs = PaholeNeedsSerialEncoding(tc.pahole_version);
    if (tc.drop_pahole_jobs) {
      std::cout << "kfarm modfinal: pahole " << tc.pahole_version
                << " is older than 1.29: -j is left out of PAHOLE_FLAGS so BTF is reproducible\n";
    }
  }

  // Digests of every input file, each hashed once.
  absl::flat_hash_map<std::string, Digest> digests;
  std::vector<BlobSource> uploads;
  if (base) uploads.push_back({base_digest, "", base});
  std::vector<Prepared> prepared;
  for (const auto& m : recipe->modules) {
    InputTree tree;
    for (const auto& [path, exec] : ModuleInputs(m)) {
      auto it = digests.find(path);
      if (it == digests.end()) {
        auto d = DigestOfFile(o.tree + "/" + path);
        if (!d.ok()) return fail(Annotate(d.status(), absl::StrCat("input of ", m.ko)));
        it = digests.emplace(path, *d).first;
        uploads.push_back({*d, o.tree + "/" + path, nullptr});
      }
      if (absl::Status s = tree.AddFile(path, it->second, exec); !s.ok()) return fail(s);
    }
    if (m.has_btf()) tree.AddFile(kBaseBtfPath, base_digest, false).IgnoreError();
    InputTree::Built built = tree.Build();
    for (auto& [d, bytes] : built.directories) {
      uploads.push_back({d, "", std::make_shared<const std::string>(bytes)});
    }
    ActionSpec spec = ModuleActionSpec(m, tc);
    spec.input_root = built.root;
    Prepared p{&m, BuildAction(spec)};
    uploads.insert(uploads.end(), p.action.blobs.begin(), p.action.blobs.end());
    prepared.push_back(std::move(p));
  }
  auto channel = DialRemote(o.remote);
  CasClient cas(channel, o.instance);
  if (absl::Status s = cas.UploadMissing(uploads); !s.ok()) return fail(s);

  Progress progress(prepared.size());
  std::atomic<size_t> next{0};
  std::atomic<int> done{0}, cached{0}, running{0}, failed{0};
  std::atomic<bool> stop{false};
  ExecuteOptions run;
  run.invocation_id = absl::StrFormat("kfarm-modfinal-%d-%d", getpid(), absl::ToUnixNanos(start));
  auto worker = [&] {
    ExecutionClient exec(channel, o.instance);
    for (;;) {
      size_t i = next++;
      if (i >= prepared.size() || stop) return;
      const Prepared& p = prepared[i];
      running++;
      progress.Update(done, cached, running, failed);
      auto r = exec.Execute(p.action.digest, run);
      running--;
      absl::Status s = r.ok() ? absl::OkStatus() : r.status();
      if (s.ok() && r->status().code() != 0) {
        s = absl::Status(static_cast<absl::StatusCode>(r->status().code()), r->status().message());
      }
      if (s.ok() && r->result().exit_code() != 0) {
        s = absl::InternalError(absl::StrCat("exit code ", r->result().exit_code()));
      }
      if (s.ok()) {
        const auto& files = r->result().output_files();
        auto ko = std::find_if(files.begin(), files.end(),
                               [&](const auto& f) { return f.path() == p.recipe->ko; });
        if (ko == files.end()) {
          s = absl::InternalError(absl::StrCat(p.recipe->ko, " was not produced"));
        } else {
          auto d = Digest::FromProto(ko->digest());
          s = d.ok() ? cas.DownloadFile(*d, o.tree + "/" + p.recipe->ko, false) : d.status();
        }
      }
      if (s.ok()) {
        std::string ko = p.recipe->ko;
        std::string dot_cmd = absl::StrCat(o.tree, "/", ko.substr(0, ko.rfind('/') + 1), ".",
                                           ko.substr(ko.rfind('/') + 1), ".cmd");
        s = WriteFileAtomic(dot_cmd, SavedCmdLine(ko, p.recipe->ld_command, true), false);
      }
      {
        std::lock_guard<std::mutex> l(progress.mu());
        if (s.ok()) {
          std::cout << "  LD [M]  " << p.recipe->ko << (r->cached_result() ? "  (cached)" : "")
                    << "\n";
          if (o.verbose) std::cout << ModuleScript(*p.recipe, tc);
        } else {
          std::cerr << "kfarm modfinal: " << p.recipe->ko << " failed: " << s.message() << "\n"
                    << "  command:\n" << ModuleScript(*p.recipe, tc);
          if (r.ok() && r->result().has_stderr_digest()) {
            auto d = Digest::FromProto(r->result().stderr_digest());
            auto err = d.ok() ? cas.ReadBlob(*d) : d.status();
            if (err.ok() && !err->empty()) std::cerr << "  stderr:\n" << *err;
          }
        }
      }
      if (s.ok()) {
        done++;
        if (r->cached_result()) cached++;
      } else {
        failed++;
        if (!o.keep_going) stop = true;
      }
      progress.Update(done, cached, running, failed);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, std::min<int>(o.parallel, prepared.size())); ++t) {
    threads.emplace_back(worker);
  }
  for (auto& t : threads) t.join();
  progress.Finish();

  if (failed == 0 && o.module_hashes) {
    std::vector<Sha256Bytes> leaves;
    for (uint32_t i = 0; i < prepared.size(); ++i) {
      auto leaf = ModuleLeafOfFile(i, o.tree + "/" + prepared[i].recipe->ko);
      if (!leaf.ok()) return fail(leaf.status());
      leaves.push_back(*leaf);
    }
    ModuleHashTree tree(leaves);
    absl::Status s = WriteFileAtomic(o.tree + "/modules.hashes.root", tree.RootBlob(), false);
    for (uint32_t i = 0; s.ok() && i < prepared.size(); ++i) {
      std::string ko = prepared[i].recipe->ko;
      s = WriteFileAtomic(o.tree + "/" + ko.substr(0, ko.size() - 3) + ".merkle", tree.Proof(i), false);
    }
    if (!s.ok()) return fail(s);
    std::cout << "  HASHES  modules.hashes.root: " << HexOf(tree.root()) << " (" << tree.levels()
              << " levels, " << prepared.size() << " modules)\n";
  }
  std::cout << absl::StrFormat(
      "kfarm modfinal: %zu modules, %d executed on the farm, %d cache hits, %d failed, %.1f s "
      "(local .mod.o %.1f s, recipe %.1f s, farm %.1f s)\n",
      prepared.size(), done - cached, cached.load(), failed.load(),
      absl::ToDoubleSeconds(absl::Now() - start), absl::ToDoubleSeconds(compiled - start),
      absl::ToDoubleSeconds(recipe_read - compiled), absl::ToDoubleSeconds(absl::Now() - recipe_read));
  return failed == 0 && done == static_cast<int>(prepared.size()) ? 0 : 1;
}

}  // namespace kfarm
