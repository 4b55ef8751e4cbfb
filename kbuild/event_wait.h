// Sleeps until something a follower of make waits for happens: a watched file is written, an
// entry of a watched directory is written or moved in, a watched process exits (its pidfd turns
// readable) — or the timeout passes. kfarm modfinal follows make's capture file, make's exit and
// the vmlinux link this way instead of waking every few milliseconds to look. Where inotify or a
// pidfd is unavailable (an exhausted watch limit, an old kernel), it naps briefly instead: slower
// to notice, never wrong, since callers look at the files and processes themselves after a wake.
#ifndef KFARM_KBUILD_EVENT_WAIT_H_
#define KFARM_KBUILD_EVENT_WAIT_H_

#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace kfarm {

class EventWait {
 public:
  EventWait();
  ~EventWait();
  EventWait(const EventWait&) = delete;
  EventWait& operator=(const EventWait&) = delete;

  // Wakes Wait when `path` (a file) is written, or (a directory) an entry in it is created,
  // written or moved in.
  void Watch(const std::string& path);
  // Returns once a watched path changed since the last Wait, one of `fds` is readable (-1 entries
  // are ignored, but make it nap), or `timeout` passed.
  void Wait(absl::Span<const int> fds, absl::Duration timeout);

 private:
  int inotify_ = -1;
  bool napping_ = false;  // A watch could not be set: wake at least every kNap.
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_EVENT_WAIT_H_
