// The base BTF's part in one `kfarm modfinal` run, as state moves with no I/O, no threads and no
// kernel (the caller reads files, talks to the farm and holds the lock). A module's BTF step
// needs the base: linked modules wait until it is loaded. With --follow the base may be read
// early, from the object the vmlinux link writes first; BTF results then stay parked until
// vmlinux's own base confirms it. A match writes them; a mismatch runs them again with the real
// base, as it does any BTF step built on the stale one that finishes later. A wrong early read
// costs time, never bytes.
#ifndef KFARM_KBUILD_BASE_TRACKER_H_
#define KFARM_KBUILD_BASE_TRACKER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/digest.h"
#include "kbuild/modfinal_jobs.h"

namespace kfarm {

class BaseTracker {
 public:
  // A captured module with a BTF step names its base file (as kfarm opens it); every module of
  // one run must name the same.
  absl::Status Named(const std::string& file, const std::string& ko);
  const std::string& file() const { return file_; }

  // Whether vmlinux's base is due to be read now: not read yet, vmlinux linked, and a module has
  // named it — or make ended and none did (then nothing needs it, and waiting modules go on).
  bool DueFromVmlinux(bool make_finished, bool vmlinux_linked) const;
  bool loaded() const { return loaded_; }
  // The base was loaded, from vmlinux or (`early`) from the link's first object, unconfirmed
  // until Confirm. Returns the linked modules that waited for it: their BTF steps start now.
  std::vector<Module*> Loaded(bool early);

  // `m` is linked and needs its BTF step: true when the base is loaded and it starts now, false
  // when it waits (returned by Loaded).
  bool Linked(Module* m);

  enum class BtfOutcome {
    kParked,  // Kept until Confirm says whether it holds.
    kRedo,    // Built on a base vmlinux's did not confirm: run it again.
    kFinal,   // Its result (or failure) stands.
  };
  // `m`'s BTF step ended with `ko`, or failed (nullopt).
  BtfOutcome BtfFinished(Module* m, std::optional<Digest> ko);

  struct Confirmation {
    std::vector<std::pair<Module*, Digest>> write;  // Parked results that hold.
    std::vector<Module*> redo;                      // Parked ones to run again with `linked`.
    bool stale = false;                             // The early base was not vmlinux's.
  };
  // vmlinux is linked and its base is `linked`; the early read gave `early`. Only after an early
  // Loaded; later BTF results built on `early` come back kRedo when the two differ.
  Confirmation Confirm(const Digest& linked, const Digest& early);
  bool unconfirmed() const { return unconfirmed_; }

 private:
  std::string file_;
  std::string named_by_;
  bool loaded_ = false;
  bool unconfirmed_ = false;
  std::optional<Digest> stale_;
  std::vector<Module*> waiting_;
  std::vector<std::pair<Module*, std::optional<Digest>>> parked_;
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_BASE_TRACKER_H_
