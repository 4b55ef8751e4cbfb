#include "kbuild/modfinal.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <future>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/cas_client.h"
#include "common/execution_client.h"
#include "common/file_util.h"
#include "common/status.h"
#include "kbuild/background_make.h"
#include "kbuild/base_tracker.h"
#include "kbuild/btf_base.h"
#include "kbuild/event_wait.h"
#include "kbuild/module_action_builder.h"
#include "kbuild/modfinal_jobs.h"
#include "kbuild/module_hashes.h"
#include "kbuild/modules_make.h"
#include "kbuild/recipe.h"
#include "kbuild/timeline.h"
#include "kbuild/walk_record.h"

namespace kfarm {
namespace {

// One modfinal run: follows make, feeds the farm, writes the results.
class Modfinal {
 public:
  Modfinal(const ModfinalOptions& o, std::shared_ptr<grpc::Channel> channel)
      : o_(o),
        channel_(std::move(channel)),
        cas_(channel_, o.instance),
        builder_(&std::cout),
        invocation_(absl::StrFormat("kfarm-modfinal-%d-%d", getpid(), absl::ToUnixNanos(start_))) {}

  int Run();

 private:
  absl::Status FollowMake();
  // The scope of `make modules` in the default path: kbuild's modfinal makefile alone when the
  // walk's record says nothing it reads changed (in-tree builds; an external module walks).
  ModulesMake::Scope CheckWalk();
  WalkInputs WalkInputsNow() const { return {o_.make_args, CurrentEnvironment()}; }
  // Adds newly captured modules (building and uploading their first actions).
  absl::Status AddModules(std::vector<ModuleRecipe> recipes);
  // The base is loaded (from `base_file`, or already, early): sends every linked module on to
  // its BTF step.
  absl::Status BaseReady(const std::string& base_file, bool early);
  // Builds and queues the BTF steps of linked modules (`reopen`: modules counted finished).
  absl::Status StartBtf(const std::vector<Module*>& modules, bool reopen = false);
  // The base read early is compared with vmlinux's own once it is linked (EarlyBaseWritten):
  // BTF results wait for that, and run again if it differs — a kernel whose link works
  // otherwise costs time, never bytes.
  absl::Status ConfirmBase(const std::string& base_file);
  absl::Status WriteModule(const Module& m, const Digest& ko);
  void FarmThread();
  // `again`: the module was queued once more (its BTF step follows, or runs again).
  absl::Status Finish(Module& m, const reapi::ExecuteResponse& r, bool* again);
  int Fail(const absl::Status& s) {
    std::cerr << "kfarm modfinal: " << s.message() << "\n";
    return 1;
  }

  const ModfinalOptions& o_;
  const absl::Time start_ = absl::Now();
  std::shared_ptr<grpc::Channel> channel_;
  CasClient cas_;
  ModuleActionBuilder builder_;
  const std::string invocation_;
  Timeline timeline_{start_};
  std::deque<Module> modules_;  // Stable addresses: farm threads hold pointers.
  Jobs jobs_;
  std::unique_ptr<Progress> progress_;
  std::atomic<int> done_{0}, cached_{0}, running_{0}, failed_{0}, linked_early_{0};
  // Actions per step: [link, BTF] x [executed, from the action cache].
  std::atomic<int> steps_[2][2] = {};
  // Held from building actions (or loading a base) until the blobs they name are uploaded: the
  // builder remembers each input's digest, so another thread's action could otherwise name a
  // blob the first has not uploaded yet.
  std::mutex build_mu_;
  std::mutex follow_mu_;
  BaseTracker base_;  // Guarded by follow_mu_.
  absl::Time early_base_at_;
  std::string early_base_file_;  // Which of kEarlyBases the link wrote.
  int btf_before_vmlinux_ = 0;
  absl::Time make_done_, vmlinux_done_;
  bool top_makefile_skipped_ = false;
  // Make's walk of the tree ran, and when make exited by the files' clock (for the record).
  bool walked_ = false;
  absl::Time make_started_, make_exited_;
  // The walk's record, written while the farm finishes (it reads only what make left).
  std::future<absl::Status> walk_record_;
  std::string walk_skipped_;  // For the summary: the walk skipped, and what was checked.
};

absl::Status Modfinal::AddModules(std::vector<ModuleRecipe> recipes) {
  std::lock_guard<std::mutex> build(build_mu_);
  std::vector<BlobSource> uploads;
  std::vector<Module*> added;
  for (ModuleRecipe& r : recipes) {
    Module& m = modules_.emplace_back();
    m.recipe = std::move(r);
    m.step = ModuleStep::kLink;
    ASSIGN_OR_RETURN(m.action, builder_.Build(m.recipe, m.step, Digest(), &uploads));
    added.push_back(&m);
  }
  if (!uploads.empty()) RETURN_IF_ERROR(cas_.UploadMissing(uploads));
  for (Module* m : added) jobs_.Add(m);
  return absl::OkStatus();
}

absl::Status Modfinal::StartBtf(const std::vector<Module*>& modules, bool reopen) {
  std::lock_guard<std::mutex> build(build_mu_);
  std::vector<BlobSource> uploads;
  for (Module* m : modules) {
    m->step = ModuleStep::kBtf;
    ASSIGN_OR_RETURN(m->action,
                     builder_.Build(m->recipe, m->step, m->linked, &uploads, &m->btf_base));
  }
  if (!uploads.empty()) RETURN_IF_ERROR(cas_.UploadMissing(uploads));
  for (Module* m : modules) reopen ? jobs_.Add(m) : jobs_.Requeue(m);
  return absl::OkStatus();
}

absl::Status Modfinal::ConfirmBase(const std::string& base_file) {
  ASSIGN_OR_RETURN(std::string btf, ExtractBtf(base_file));
  const Digest linked = Digest::Of(btf), early = builder_.base_digest();
  if (linked != early) {
    std::cerr << "kfarm modfinal: the base BTF read early (" << early_base_file_ << ", "
              << early.ToString() << ") is not " << base_file << "'s (" << linked.ToString()
              << "): the BTF steps run again with " << base_file << "'s\n";
    std::lock_guard<std::mutex> build(build_mu_);
    std::vector<BlobSource> uploads;
    RETURN_IF_ERROR(builder_.LoadBase(base_file, &uploads));
    RETURN_IF_ERROR(cas_.UploadMissing(uploads));
  }
  BaseTracker::Confirmation c;
  {
    std::lock_guard<std::mutex> l(follow_mu_);
    c = base_.Confirm(linked, early);
  }
  btf_before_vmlinux_ = static_cast<int>(c.write.size() + c.redo.size());
  for (const auto& [m, ko] : c.write) RETURN_IF_ERROR(WriteModule(*m, ko));
  done_ -= static_cast<int>(c.redo.size());
  return StartBtf(c.redo, /*reopen=*/true);
}

absl::Status Modfinal::BaseReady(const std::string& base_file, bool early) {
  std::vector<Module*> linked;
  if (!base_file.empty()) {
    std::lock_guard<std::mutex> build(build_mu_);
    std::vector<BlobSource> uploads;
    RETURN_IF_ERROR(builder_.LoadBase(base_file, &uploads));
    RETURN_IF_ERROR(cas_.UploadMissing(uploads));
    std::cout << "  BTF base: the .BTF of " << base_file << " (" << builder_.base_digest().ToString()
              << ")\n";
  }
  {
    std::lock_guard<std::mutex> l(follow_mu_);
    linked = base_.Loaded(early);
  }
  linked_early_ = static_cast<int>(linked.size());
  return StartBtf(linked);
}

ModulesMake::Scope Modfinal::CheckWalk() {
  if (!o_.extmod.empty()) return ModulesMake::Scope::kModules;
  const absl::Time t0 = absl::Now();
  int checked = 0;
  const std::string why = o_.always_walk ? "--always_walk" : WhyWalk(o_.tree, WalkInputsNow(), &checked);
  if (why.empty()) {
    walk_skipped_ = absl::StrFormat("walk skipped: none of the %d files it reads changed (%.0f ms)",
                                    checked, absl::ToDoubleMilliseconds(absl::Now() - t0));
    return ModulesMake::Scope::kModfinalOnly;
  }
  std::cout << "  make walks the tree: " << why << "\n";
  ForgetWalkRecord(o_.tree);  // Whatever happens now, it no longer describes the tree.
  walked_ = true;
  return ModulesMake::Scope::kModules;
}

absl::Status Modfinal::FollowMake() {
  if (o_.follow) {
    // Everything but the vmlinux link and the modules' final stage: vmlinux.o, the modules'
    // objects, modpost over both.
    auto prep = BackgroundMake::Start(
        o_.tree, [&] {
          std::vector<std::string> a = {"-s", absl::StrCat("-j", o_.jobs), "--no-print-directory",
                                        "-o", "vmlinux", "KBUILD_MODPOST_NOFINAL=1", "modules"};
          a.insert(a.end(), o_.make_args.begin(), o_.make_args.end());
          return a;
        }());
    if (!prep.ok()) return prep.status();
    if (o_.verbose) std::cout << (*prep)->command() << "\n";
    RETURN_IF_ERROR((*prep)->Wait());
  }
  ModulesMake::Scope scope = o_.follow            ? ModulesMake::Scope::kBeforeVmlinux
                             : o_.objects_current ? ModulesMake::Scope::kModfinalOnly
                                                  : ModulesMake::Scope::kModules;
  if (scope == ModulesMake::Scope::kModules) scope = CheckWalk();
  make_started_ = FileClockNow();
  ASSIGN_OR_RETURN(auto make, ModulesMake::Start(o_.tree, o_.extmod, o_.jobs, o_.make_args, scope));
  if (o_.verbose) std::cout << make->command() << "\n";
  top_makefile_skipped_ = make->top_makefile_skipped();
  std::unique_ptr<BackgroundMake> vmlinux;
  bool finished = false, vmlinux_linked = !o_.follow, early_tried = false;
  EventWait link_events;
  if (o_.follow) link_events.Watch(o_.tree);
  absl::Time link_start;
  // The BTF steps start once vmlinux is linked and a module has named the base (vmlinux may be
  // linked already, before any module is captured), or once make ends without one.
  auto base_due = [&] {
    std::lock_guard<std::mutex> l(follow_mu_);
    return base_.DueFromVmlinux(finished, vmlinux_linked);
  };
  auto base_loaded = [&] {
    std::lock_guard<std::mutex> l(follow_mu_);
    return base_.loaded();
  };
  auto read_base = [&]() -> absl::Status {
    return base_due() ? BaseReady(base_.file(), /*early=*/false) : absl::OkStatus();
  };
  while (!(finished && vmlinux_linked && base_loaded()) && !jobs_.stopped()) {
    if (!finished) {
      ASSIGN_OR_RETURN(std::vector<ModuleRecipe> batch, make->Next(absl::Milliseconds(50), &finished));
      for (const auto& r : batch) {
        if (!r.has_btf()) continue;
        std::lock_guard<std::mutex> l(follow_mu_);
        RETURN_IF_ERROR(base_.Named(PathOf(r, r.btf_base), r.ko));
      }
      RETURN_IF_ERROR(AddModules(std::move(batch)));
      if (finished) {
        make_done_ = absl::Now();
        make_exited_ = FileClockNow();
        if (walked_) {
          walk_record_ = std::async(std::launch::async, [this, in = WalkInputsNow()] {
            const absl::Time t0 = absl::Now();
            absl::Status s = SaveWalkRecord(o_.tree, in, make_started_, make_exited_);
            if (s.ok() && o_.verbose) {
              std::cout << absl::StrFormat("  the walk is recorded (%.0f ms)\n",
                                           absl::ToDoubleMilliseconds(absl::Now() - t0));
            }
            return s;
          });
        }
      }
    } else {
      // Until the link writes a file in the tree (the early base, the file after it) or ends;
      // at most a moment, so a stop from the farm threads is seen.
      const int exit_fd = vmlinux != nullptr ? vmlinux->exit_fd() : -1;
      link_events.Wait(absl::MakeConstSpan(&exit_fd, 1), absl::Milliseconds(200));
    }
    RETURN_IF_ERROR(read_base());
    if (vmlinux_linked) continue;
    // The link starts at once: the capture make has no goal but the modfinal makefile, so the
    // two makes share no preparation step (those rewrite files in place).
    if (vmlinux == nullptr) {
      // Only the link: the make above built vmlinux.o and ran modpost (-o holds only in the
      // make it is given to, hence --no-print-directory: no re-invocation of itself).
      std::vector<std::string> a = {"-s", absl::StrCat("-j", o_.jobs), "--no-print-directory",
                                    "-o", "modpost", "-o", "vmlinux.o", "vmlinux"};
      a.insert(a.end(), o_.make_args.begin(), o_.make_args.end());
      link_start = absl::Now();
      ASSIGN_OR_RETURN(vmlinux, BackgroundMake::Start(o_.tree, a));
      if (o_.verbose) std::cout << vmlinux->command() << "\n";
    }
    if (vmlinux == nullptr) continue;
    const bool early_wanted = !early_tried && !base_.file().empty() && !base_loaded();
    if (early_wanted) early_base_file_ = EarlyBaseWritten(o_.tree, link_start);
    if (early_wanted && !early_base_file_.empty()) {
      early_tried = true;
      std::unique_lock<std::mutex> build(build_mu_);
      std::vector<BlobSource> uploads;
      if (builder_.LoadBase(o_.tree + "/" + early_base_file_, &uploads).ok()) {  // Else vmlinux's.
        RETURN_IF_ERROR(cas_.UploadMissing(uploads));
        build.unlock();
        early_base_at_ = absl::Now();
        RETURN_IF_ERROR(BaseReady("", /*early=*/true));
      }
    }
    std::optional<absl::Status> linked = vmlinux->Poll();
    if (!linked) continue;
    RETURN_IF_ERROR(*linked);
    vmlinux_linked = true;
    vmlinux_done_ = absl::Now();
    timeline_.Add("vmlinux", "", link_start, vmlinux_done_, false);
    if (early_base_at_ != absl::Time()) RETURN_IF_ERROR(ConfirmBase(base_.file()));
    RETURN_IF_ERROR(read_base());
  }
  return absl::OkStatus();
}

// The module's .ko from a finished execution, or why there is none.
absl::StatusOr<Digest> OutputKo(const Module& m, const reapi::ExecuteResponse& r) {
  if (r.status().code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(r.status().code()), r.status().message());
  }
  if (r.result().exit_code() != 0) {
    return absl::InternalError(absl::StrCat("exit code ", r.result().exit_code()));
  }
  const auto& files = r.result().output_files();
  auto ko = std::find_if(files.begin(), files.end(),
                         [&](const auto& f) { return f.path() == InRoot(m.recipe, m.recipe.ko); });
  if (ko == files.end()) return absl::InternalError(absl::StrCat(m.recipe.ko, " was not produced"));
  return Digest::FromProto(ko->digest());
}

absl::Status Modfinal::Finish(Module& m, const reapi::ExecuteResponse& r, bool* again) {
  *again = false;
  absl::StatusOr<Digest> ko = OutputKo(m, r);
  if (m.step == ModuleStep::kBtf) {
    BaseTracker::BtfOutcome outcome;
    {
      std::lock_guard<std::mutex> l(follow_mu_);
      outcome = base_.BtfFinished(&m, ko.ok() ? std::optional<Digest>(*ko) : std::nullopt);
    }
    if (outcome == BaseTracker::BtfOutcome::kParked) return absl::OkStatus();
    *again = outcome == BaseTracker::BtfOutcome::kRedo;
  }
  if (*again) return StartBtf({&m});
  if (!ko.ok()) return ko.status();
  if (m.step == ModuleStep::kLink && m.recipe.has_btf()) {
    m.linked = *ko;
    *again = true;
    {
      std::lock_guard<std::mutex> l(follow_mu_);
      if (!base_.Linked(&m)) return absl::OkStatus();  // Started once the base is loaded.
    }
    return StartBtf({&m});
  }
  return WriteModule(m, *ko);
}

absl::Status Modfinal::WriteModule(const Module& m, const Digest& d) {
  const std::string& ko = m.recipe.ko;
  const std::string path = PathOf(m.recipe, ko);
  RETURN_IF_ERROR(cas_.DownloadFile(d, path, false));
  const size_t slash = path.rfind('/');
  const std::string dot_cmd =
      absl::StrCat(path.substr(0, slash + 1), ".", path.substr(slash + 1), ".cmd");
  return WriteFileAtomic(dot_cmd, SavedCmdLine(m.recipe.saved_cmd_prefix, ko, m.recipe.ld_command),
                         false);
}

void Modfinal::FarmThread() {
  ExecutionClient exec(channel_, o_.instance);
  ExecuteOptions run;
  run.invocation_id = invocation_;
  while (Module* m = jobs_.Pop()) {
    const ModuleStep step = m->step;
    running_++;
    progress_->Update(done_, cached_, running_, failed_);
    const absl::Time sent = absl::Now();
    auto r = exec.Execute(m->action.digest, run);
    timeline_.Add(step == ModuleStep::kLink ? "link" : "btf", m->recipe.ko, sent, absl::Now(),
                  r.ok() && r->cached_result());
    running_--;
    if (r.ok() && r->status().code() == 0) {
      steps_[step == ModuleStep::kLink ? 0 : 1][r->cached_result() ? 1 : 0]++;
      if (!r->cached_result()) m->executed = true;
    }
    bool again = false;
    absl::Status s = r.ok() ? Finish(*m, *r, &again) : r.status();
    if (s.ok() && again) continue;  // Its BTF step follows, or runs again.
    {
      std::lock_guard<std::mutex> l(progress_->mu());
      const ModfinalToolchain tc = builder_.toolchain();
      if (s.ok()) {
        std::cout << "  LD [M]  " << m->recipe.ko << (m->executed ? "" : "  (cached)") << "\n";
        if (o_.verbose) std::cout << ModuleScript(m->recipe, tc, step);
      } else {
        std::cerr << "kfarm modfinal: " << m->recipe.ko << " failed: " << s.message() << "\n"
                  << "  command:\n" << ModuleScript(m->recipe, tc, step);
        if (r.ok() && r->result().has_stderr_digest()) {
          auto d = Digest::FromProto(r->result().stderr_digest());
          auto err = d.ok() ? cas_.ReadBlob(*d) : d.status();
          if (err.ok() && !err->empty()) std::cerr << "  stderr:\n" << *err;
        }
      }
    }
    if (s.ok()) {
      done_++;
      if (!m->executed) cached_++;
    } else {
      failed_++;
      if (!o_.keep_going) jobs_.Stop();
    }
    jobs_.Finished();
    progress_->Update(done_, cached_, running_, failed_);
  }
}

int Modfinal::Run() {
  if (o_.follow && !o_.extmod.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--follow links the kernel's vmlinux; an external module (M=) is built against a linked one"));
  }
  auto order = ReadModulesOrder(o_.extmod.empty() ? o_.tree : o_.extmod);
  if (!order.ok()) return Fail(order.status());
  progress_ = std::make_unique<Progress>(order->size());
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, o_.parallel); ++t) threads.emplace_back([this] { FarmThread(); });
  absl::Status made = FollowMake();
  if (!made.ok()) jobs_.Stop();
  jobs_.NoMore();
  for (auto& t : threads) t.join();
  progress_->Finish();
  const absl::Status recorded = walk_record_.valid() ? walk_record_.get() : absl::OkStatus();
  // The record stands only for a run that made every module.
  bool keep_record = false;
  absl::Cleanup forget_record = [&] {
    if (walked_ && !keep_record) ForgetWalkRecord(o_.tree);
  };
  if (!made.ok()) return Fail(made);

  // Every module kbuild lists must have been captured; module hashes follow modules.order.
  absl::flat_hash_map<std::string, const Module*> by_ko;
  for (const Module& m : modules_) by_ko[m.recipe.ko] = &m;
  std::vector<const Module*> ordered;
  for (const std::string& ko : *order) {
    auto it = by_ko.find(ko);
    if (it == by_ko.end() && failed_ > 0) continue;  // Stopped early; the failure was reported.
    if (it == by_ko.end()) {
      return Fail(absl::FailedPreconditionError(absl::StrCat(
          "`make modules` produced no link recipe for ", ko, " (listed in modules.order)")));
    }
    ordered.push_back(it->second);
  }

  if (failed_ == 0 && o_.module_hashes) {
    std::vector<std::string> kos;
    for (const Module* m : ordered) kos.push_back(PathOf(m->recipe, m->recipe.ko));
    auto tree = WriteModuleHashes(kos, (o_.extmod.empty() ? o_.tree : o_.extmod) + "/modules.hashes.root");
    if (!tree.ok()) return Fail(tree.status());
    std::cout << "  HASHES  modules.hashes.root: " << HexOf(tree->root()) << " (" << tree->levels()
              << " levels, " << ordered.size() << " modules)\n";
  }
  if (walked_ && failed_ == 0 && done_ == static_cast<int>(ordered.size())) {
    // The next run may skip the walk while nothing it reads changes.
    keep_record = recorded.ok();
    if (!recorded.ok()) {
      std::cout << "  the walk is not recorded, the next run walks again: " << recorded.message()
                << "\n";
    }
  }
  const absl::Time end = absl::Now();
  if (make_done_ == absl::Time()) make_done_ = end;  // Stopped before make ended.
  timeline_.Add("make", "", start_, make_done_, false);
  if (!o_.timeline.empty()) {
    if (absl::Status s = timeline_.Write(o_.timeline); !s.ok()) return Fail(s);
  }
  std::string phases = absl::StrFormat(
      "make with the .mod.o compiles %.1f s%s%s", absl::ToDoubleSeconds(make_done_ - start_),
      walk_skipped_.empty() ? "" : ", " + walk_skipped_,
      top_makefile_skipped_ ? ", top Makefile not read: nothing it reads changed since the last run"
                            : "");
  if (o_.follow && vmlinux_done_ != absl::Time()) {
    absl::StrAppendFormat(&phases, ", vmlinux linked at %.1f s with %d modules already linked",
                          absl::ToDoubleSeconds(vmlinux_done_ - start_), linked_early_.load());
    if (early_base_at_ != absl::Time()) {
      absl::StrAppendFormat(&phases, ", base BTF read from %s at %.1f s (%d BTF steps done before)",
                            early_base_file_, absl::ToDoubleSeconds(early_base_at_ - start_),
                            btf_before_vmlinux_);
    }
  }
  std::cout << absl::StrFormat(
      "kfarm modfinal: %zu modules, %d executed on the farm, %d cache hits, %d failed, %.1f s "
      "(%s, farm after make %.1f s)\n",
      modules_.size(), done_ - cached_, cached_.load(), failed_.load(),
      absl::ToDoubleSeconds(end - start_), phases,
      absl::ToDoubleSeconds(end - std::max(make_done_, vmlinux_done_)));
  std::cout << absl::StrFormat(
      "  actions: %d links executed, %d links from the action cache; %d BTF steps executed, %d "
      "BTF steps from the action cache\n",
      steps_[0][0].load(), steps_[0][1].load(), steps_[1][0].load(), steps_[1][1].load());
  return failed_ == 0 && done_ == static_cast<int>(ordered.size()) ? 0 : 1;
}

}  // namespace

int RunModfinal(const ModfinalOptions& options) {
  auto channel = Dial(options.remote, options.credentials);
  if (!channel.ok()) {
    std::cerr << "kfarm modfinal: " << channel.status().message() << "\n";
    return 2;
  }
  return Modfinal(options, *channel).Run();
}

}  // namespace kfarm
