#include "kbuild/modfinal.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
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

struct Prepared {
  ModuleRecipe recipe;
  BuiltAction action;
};

// Modules ready to run, handed from the make-following producer to the farm threads.
class ReadyModules {
 public:
  void Push(const Prepared* p) {
    std::lock_guard<std::mutex> l(mu_);
    ready_.push_back(p);
    cv_.notify_one();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // Null once closed and empty.
  const Prepared* Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_ || !ready_.empty(); });
    if (ready_.empty()) return nullptr;
    const Prepared* p = ready_.front();
    ready_.pop_front();
    return p;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<const Prepared*> ready_;
  bool closed_ = false;
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
  auto make = ModulesMake::Start(o.tree, o.jobs, o.make_args);
  if (!make.ok()) return fail(make.status());
  if (o.verbose) std::cout << (*make)->command() << "\n";
  auto order = ReadModulesOrder(o.tree);
  if (!order.ok()) return fail(order.status());

  auto channel = DialRemote(o.remote);
  CasClient cas(channel, o.instance);
  // The raw base BTF (vmlinux exists before modfinal starts): one blob for every module of this
  // vmlinux, and part of every action key.
  Digest base_digest;
  std::shared_ptr<const std::string> base;
  ModfinalToolchain tc;
  bool have_toolchain = false;
  // Prepares one module: digests of its inputs (each file hashed once), its action, and the
  // blobs the farm may lack.
  absl::flat_hash_map<std::string, Digest> digests;
  auto prepare = [&](ModuleRecipe m, std::vector<BlobSource>* uploads) -> absl::StatusOr<Prepared> {
    if (!have_toolchain) {
      have_toolchain = true;
      tc.ld_version = ToolVersion(m.ld_command.substr(0, m.ld_command.find(' ')));
      tc.objcopy_version = ToolVersion(m.has_btf() ? m.objcopy : "objcopy");
      if (m.has_btf()) {
        tc.pahole_version = ToolVersion(m.pahole);
        tc.drop_pahole_jobs = PaholeNeedsSerialEncoding(tc.pahole_version);
        if (tc.drop_pahole_jobs) {
          std::cout << "kfarm modfinal: pahole " << tc.pahole_version
                    << " is older than 1.29: -j is left out of PAHOLE_FLAGS so BTF is reproducible\n";
        }
      }
    }
    if (m.has_btf() && base == nullptr) {
      auto btf = ExtractBtf(o.tree + "/" + m.btf_base);
      if (!btf.ok()) return btf.status();
      base = std::make_shared<const std::string>(std::move(*btf));
      base_digest = Digest::Of(*base);
      uploads->push_back({base_digest, "", base});
    }
    InputTree tree;
    for (const auto& [path, exec] : ModuleInputs(m)) {
      auto it = digests.find(path);
      if (it == digests.end()) {
        auto d = DigestOfFile(o.tree + "/" + path);
        if (!d.ok()) return Annotate(d.status(), absl::StrCat("input of ", m.ko));
        it = digests.emplace(path, *d).first;
        uploads->push_back({*d, o.tree + "/" + path, nullptr});
      }
      RETURN_IF_ERROR(tree.AddFile(path, it->second, exec));
    }
    if (m.has_btf()) tree.AddFile(kBaseBtfPath, base_digest, false).IgnoreError();
    InputTree::Built built = tree.Build();
    for (auto& [d, bytes] : built.directories) {
      uploads->push_back({d, "", std::make_shared<const std::string>(bytes)});
    }
    ActionSpec spec = ModuleActionSpec(m, tc);
    spec.input_root = built.root;
    Prepared p{std::move(m), BuildAction(spec)};
    uploads->insert(uploads->end(), p.action.blobs.begin(), p.action.blobs.end());
    return p;
  };

  std::deque<Prepared> prepared;  // Stable addresses: the farm threads hold pointers.
  ReadyModules ready;
  Progress progress(order->size());
  std::atomic<int> done{0}, cached{0}, running{0}, failed{0};
  std::atomic<bool> stop{false};
  ExecuteOptions run;
  run.invocation_id = absl::StrFormat("kfarm-modfinal-%d-%d", getpid(), absl::ToUnixNanos(start));
  auto worker = [&] {
    ExecutionClient exec(channel, o.instance);
    for (;;) {
      const Prepared* next = ready.Pop();
      if (next == nullptr || stop) return;
      const Prepared& p = *next;
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
                               [&](const auto& f) { return f.path() == p.recipe.ko; });
        if (ko == files.end()) {
          s = absl::InternalError(absl::StrCat(p.recipe.ko, " was not produced"));
        } else {
          auto d = Digest::FromProto(ko->digest());
          s = d.ok() ? cas.DownloadFile(*d, o.tree + "/" + p.recipe.ko, false) : d.status();
        }
      }
      if (s.ok()) {
        std::string ko = p.recipe.ko;
        std::string dot_cmd = absl::StrCat(o.tree, "/", ko.substr(0, ko.rfind('/') + 1), ".",
                                           ko.substr(ko.rfind('/') + 1), ".cmd");
        s = WriteFileAtomic(dot_cmd, SavedCmdLine(ko, p.recipe.ld_command, true), false);
      }
      {
        std::lock_guard<std::mutex> l(progress.mu());
        if (s.ok()) {
          std::cout << "  LD [M]  " << p.recipe.ko << (r->cached_result() ? "  (cached)" : "")
                    << "\n";
          if (o.verbose) std::cout << ModuleScript(p.recipe, tc);
        } else {
          std::cerr << "kfarm modfinal: " << p.recipe.ko << " failed: " << s.message() << "\n"
                    << "  command:\n" << ModuleScript(p.recipe, tc);
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
  for (int t = 0; t < std::max(1, o.parallel); ++t) threads.emplace_back(worker);
  // Follow make: each module goes to the farm as soon as kbuild reaches its .ko.
  absl::Status producer = absl::OkStatus();
  absl::Time make_done;
  for (bool finished = false; !finished && producer.ok() && !stop;) {
    auto batch = (*make)->Next(absl::Milliseconds(50), &finished);
    if (!batch.ok()) {
      producer = batch.status();
      break;
    }
    std::vector<BlobSource> uploads;
    size_t first = prepared.size();
    for (ModuleRecipe& m : *batch) {
      auto p = prepare(std::move(m), &uploads);
      if (!p.ok()) {
        producer = p.status();
        break;
      }
      prepared.push_back(std::move(*p));
    }
    if (producer.ok() && !uploads.empty()) producer = cas.UploadMissing(uploads);
    if (!producer.ok()) break;
    for (size_t i = first; i < prepared.size(); ++i) ready.Push(&prepared[i]);
    if (finished) make_done = absl::Now();
  }
  if (producer.ok() && make_done == absl::Time()) make_done = absl::Now();
  ready.Close();
  for (auto& t : threads) t.join();
  progress.Finish();
  if (!producer.ok()) return fail(producer);

  // Every module kbuild lists must have been captured; module hashes follow modules.order.
  absl::flat_hash_map<std::string, const Prepared*> by_ko;
  for (const Prepared& p : prepared) by_ko[p.recipe.ko] = &p;
  std::vector<const Prepared*> ordered;
  for (const std::string& ko : *order) {
    auto it = by_ko.find(ko);
    if (it == by_ko.end() && failed > 0) continue;  // Stopped early; the failure was reported.
    if (it == by_ko.end()) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "`make modules` produced no link recipe for ", ko, " (listed in modules.order)")));
    }
    ordered.push_back(it->second);
  }

  if (failed == 0 && o.module_hashes) {
    std::vector<Sha256Bytes> leaves;
    for (uint32_t i = 0; i < ordered.size(); ++i) {
      auto leaf = ModuleLeafOfFile(i, o.tree + "/" + ordered[i]->recipe.ko);
      if (!leaf.ok()) return fail(leaf.status());
      leaves.push_back(*leaf);
    }
    ModuleHashTree tree(leaves);
    absl::Status s = WriteFileAtomic(o.tree + "/modules.hashes.root", tree.RootBlob(), false);
    for (uint32_t i = 0; s.ok() && i < ordered.size(); ++i) {
      std::string ko = ordered[i]->recipe.ko;
      s = WriteFileAtomic(o.tree + "/" + ko.substr(0, ko.size() - 3) + ".merkle", tree.Proof(i), false);
    }
    if (!s.ok()) return fail(s);
    std::cout << "  HASHES  modules.hashes.root: " << HexOf(tree.root()) << " (" << tree.levels()
              << " levels, " << prepared.size() << " modules)\n";
  }
  std::cout << absl::StrFormat(
      "kfarm modfinal: %zu modules, %d executed on the farm, %d cache hits, %d failed, %.1f s "
      "(make with the .mod.o compiles %.1f s, farm after make %.1f s)\n",
      prepared.size(), done - cached, cached.load(), failed.load(),
      absl::ToDoubleSeconds(absl::Now() - start), absl::ToDoubleSeconds(make_done - start),
      absl::ToDoubleSeconds(absl::Now() - make_done));
  return failed == 0 && done == static_cast<int>(prepared.size()) ? 0 : 1;
}

}  // namespace kfarm
