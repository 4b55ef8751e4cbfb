// How long actions of each shape (the command and its outputs, without digests) took before,
// so the queue can start the longest expected first and big modules do not finish last.
// Bounded: shapes are kept by a 64-bit hash (a command line can be megabytes), in two
// generations of at most capacity/2 each; when the newer fills, the older is dropped. Shapes
// seen recently stay (a lookup in the older generation moves the shape forward), and a client
// sending endless distinct commands costs at most `capacity` small entries.
#ifndef KFARM_SCHEDULER_DURATION_HISTORY_H_
#define KFARM_SCHEDULER_DURATION_HISTORY_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/time/time.h"

namespace kfarm {

class DurationHistory {
 public:
  explicit DurationHistory(size_t capacity = 1 << 17) : half_(capacity < 2 ? 1 : capacity / 2) {}

  // Exponential moving average, so a shape follows its latest runs.
  void Record(const std::string& shape, absl::Duration took) {
    const uint64_t key = absl::HashOf(shape);
    absl::Duration* now = Find(key);
    if (now != nullptr) {
      *now = (*now * 3 + took) / 4;
    } else {
      Insert(key, took);
    }
  }
  // Zero for shapes never seen (or long forgotten).
  absl::Duration Expected(const std::string& shape) {
    const absl::Duration* d = Find(absl::HashOf(shape));
    return d == nullptr ? absl::ZeroDuration() : *d;
  }
  size_t size() const { return newer_.size() + older_.size(); }

 private:
  absl::Duration* Find(uint64_t key) {
    if (auto it = newer_.find(key); it != newer_.end()) return &it->second;
    auto it = older_.find(key);
    if (it == older_.end()) return nullptr;
    const absl::Duration d = it->second;
    older_.erase(it);
    return Insert(key, d);
  }
  absl::Duration* Insert(uint64_t key, absl::Duration d) {
    if (newer_.size() >= half_) {
      older_ = std::move(newer_);
      newer_.clear();
    }
    return &newer_.emplace(key, d).first->second;
  }

  const size_t half_;
  absl::flat_hash_map<uint64_t, absl::Duration> newer_, older_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_DURATION_HISTORY_H_
