#include "kbuild/event_wait.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace kfarm {
namespace {

// The longest a wait goes unchecked when something cannot be watched: the interval kfarm used to
// poll at.
constexpr absl::Duration kNap = absl::Milliseconds(20);

}  // namespace

EventWait::EventWait() : inotify_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
  napping_ = inotify_ < 0;
}

EventWait::~EventWait() {
  if (inotify_ >= 0) ::close(inotify_);
}

void EventWait::Watch(const std::string& path) {
  const uint32_t mask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO;
  if (inotify_ < 0 || ::inotify_add_watch(inotify_, path.c_str(), mask) < 0) napping_ = true;
}

void EventWait::Wait(absl::Span<const int> fds, absl::Duration timeout) {
  std::vector<pollfd> polled;
  bool nap = napping_;
  for (int fd : fds) {
    if (fd < 0) {
      nap = true;
    } else {
      polled.push_back({fd, POLLIN, 0});
    }
  }
  if (inotify_ >= 0) polled.push_back({inotify_, POLLIN, 0});
  if (nap) timeout = std::min(timeout, kNap);
  const int64_t ms = std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1))), 0, 1 << 30);
  const int ready = ::poll(polled.data(), polled.size(), static_cast<int>(ms));
  if (ready > 0 && inotify_ >= 0) {
    // What changed does not matter, only that something did: drain every queued event.
    alignas(inotify_event) char buf[4096];
    while (::read(inotify_, buf, sizeof buf) > 0) {
    }
  }
}

}  // namespace kfarm
