#include "kbuild/base_tracker.h"

#include "absl/strings/str_cat.h"

namespace kfarm {

absl::Status BaseTracker::Named(const std::string& file, const std::string& ko) {
  if (!file_.empty() && file != file_) {
    return absl::FailedPreconditionError(absl::StrCat("modules name two base BTF files: ", file_,
                                                      " (", named_by_, ") and ", file, " (", ko,
                                                      ")"));
  }
  if (file_.empty()) named_by_ = ko;
  file_ = file;
  return absl::OkStatus();
}

bool BaseTracker::DueFromVmlinux(bool make_finished, bool vmlinux_linked) const {
  return !loaded_ && vmlinux_linked && (!file_.empty() || make_finished);
}

std::vector<Module*> BaseTracker::Loaded(bool early) {
  loaded_ = true;
  unconfirmed_ = early;
  return std::exchange(waiting_, {});
}

bool BaseTracker::Linked(Module* m) {
  if (loaded_) return true;
  waiting_.push_back(m);
  return false;
}

BaseTracker::BtfOutcome BaseTracker::BtfFinished(Module* m, std::optional<Digest> ko) {
  if (unconfirmed_) {  // Even a failure: it may be the early base's doing.
    parked_.emplace_back(m, std::move(ko));
    return BtfOutcome::kParked;
  }
  return stale_ && m->btf_base == *stale_ ? BtfOutcome::kRedo : BtfOutcome::kFinal;
}

BaseTracker::Confirmation BaseTracker::Confirm(const Digest& linked, const Digest& early) {
  Confirmation c;
  unconfirmed_ = false;
  c.stale = linked != early;
  if (c.stale) stale_ = early;
  for (auto& [m, ko] : std::exchange(parked_, {})) {
    if (ko && m->btf_base == linked) {
      c.write.emplace_back(m, *ko);
    } else {
      c.redo.push_back(m);
    }
  }
  return c;
}

}  // namespace kfarm
