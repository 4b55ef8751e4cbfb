// The ready queue: what runs next, in O(builds + log n) whatever the queue's length.
// Order: the most urgent priority (lower first); then the least-served build, so concurrent
// builds share the workers; then, within a build, the longest expected first and first come
// among equals. A build's share counts what it was given while it had work queued or running;
// a build that (re)appears starts level with the least-served active one, so a new build
// neither starves nor is starved by one that has been running for an hour.
#ifndef KFARM_SCHEDULER_FAIR_QUEUE_H_
#define KFARM_SCHEDULER_FAIR_QUEUE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"

namespace kfarm {

struct FairQueueKey {
  int32_t priority = 0;
  int64_t expected_ns = 0;  // Learned duration when queued: longer runs first.
  uint64_t seq = 0;         // Arrival: first come first among equals.
  bool operator<(const FairQueueKey& o) const {
    return std::make_tuple(priority, -expected_ns, seq) <
           std::make_tuple(o.priority, -o.expected_ns, o.seq);
  }
};

template <typename T>
class FairQueue {
 public:
  using Key = FairQueueKey;

  void Push(const std::string& build, const Key& key, T item) {
    Build& b = Activate(build);
    b.queued.emplace(key, std::move(item));
    ++size_;
  }

  // Removes a queued item (cancelled, or failed while queued); false if it was not queued.
  bool Erase(const std::string& build, const Key& key) {
    auto it = builds_.find(build);
    if (it == builds_.end() || it->second.queued.erase(key) == 0) return false;
    --size_;
    Deactivate(it);
    return true;
  }

  // Takes the next item `servable` accepts and counts it as running for its build; nullopt when
  // nothing queued is servable now.
  std::optional<T> Pop(absl::FunctionRef<bool(const T&)> servable) {
    auto best_build = builds_.end();
    typename std::map<Key, T>::iterator best;
    for (auto b = builds_.begin(); b != builds_.end(); ++b) {
      for (auto it = b->second.queued.begin(); it != b->second.queued.end(); ++it) {
        if (best_build != builds_.end() && it->first.priority > best->first.priority) break;
        if (!servable(it->second)) continue;
        if (best_build == builds_.end() || Before(*b, it->first, *best_build, best->first)) {
          best_build = b;
          best = it;
        }
        break;  // Later items of this build come after this one.
      }
    }
    if (best_build == builds_.end()) return std::nullopt;
    T item = std::move(best->second);
    best_build->second.queued.erase(best);
    --size_;
    best_build->second.running++;
    best_build->second.served++;
    return item;
  }

  // An item Pop returned stopped running (finished, cancelled, or going back to the queue).
  void Stopped(const std::string& build) {
    auto it = builds_.find(build);
    if (it == builds_.end()) return;
    if (it->second.running > 0) it->second.running--;
    Deactivate(it);
  }

  size_t size() const { return size_; }
  size_t builds() const { return builds_.size(); }
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [name, b] : builds_) {
      for (const auto& [key, item] : b.queued) f(item);
    }
  }

 private:
  struct Build {
    std::map<Key, T> queued;
    int64_t running = 0;
    int64_t served = 0;
  };
  using Builds = absl::flat_hash_map<std::string, Build>;

  static bool Before(const typename Builds::value_type& a, const Key& ka,
                     const typename Builds::value_type& b, const Key& kb) {
    return std::make_tuple(ka.priority, a.second.served, -ka.expected_ns, ka.seq) <
           std::make_tuple(kb.priority, b.second.served, -kb.expected_ns, kb.seq);
  }

  Build& Activate(const std::string& name) {
    auto it = builds_.find(name);
    if (it != builds_.end()) return it->second;
    int64_t least = 0;
    bool any = false;
    for (const auto& [n, b] : builds_) {
      least = any ? std::min(least, b.served) : b.served;
      any = true;
    }
    Build& b = builds_[name];
    b.served = least;
    return b;
  }

  void Deactivate(typename Builds::iterator it) {
    if (it->second.queued.empty() && it->second.running == 0) builds_.erase(it);
  }

  Builds builds_;
  size_t size_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_FAIR_QUEUE_H_
