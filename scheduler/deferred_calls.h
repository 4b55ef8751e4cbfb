// Calls decided under the queue's lock and made after it is released: telling watchers and
// sending to workers may re-enter the queue, and gRPC may run a reaction inline.
#ifndef KFARM_SCHEDULER_DEFERRED_CALLS_H_
#define KFARM_SCHEDULER_DEFERRED_CALLS_H_

#include <functional>
#include <utility>
#include <vector>

namespace kfarm {

class DeferredCalls {
 public:
  void Add(std::function<void()> call) { calls_.push_back(std::move(call)); }
  bool empty() const { return calls_.empty(); }
  // Hands over what was deferred so far; the caller runs it once unlocked.
  std::vector<std::function<void()>> Take() { return std::exchange(calls_, {}); }

 private:
  std::vector<std::function<void()>> calls_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_DEFERRED_CALLS_H_
