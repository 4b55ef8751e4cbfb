// Which blobs a store holds, their sizes, and their recency: the bookkeeping behind a size cap
// with least-recently-used eviction. Not thread-safe; stores guard it with their own mutex.
#ifndef KFARM_COMMON_LRU_INDEX_H_
#define KFARM_COMMON_LRU_INDEX_H_

#include <list>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "common/digest.h"

namespace kfarm {

class LruIndex {
 public:
  bool Contains(const Digest& d) const { return entries_.contains(d); }
  size_t count() const { return entries_.size(); }
  int64_t total_bytes() const { return total_bytes_; }

  // Inserts as most recent, or refreshes an existing entry. `bytes` is what the entry costs.
  // `checksum` (a FastChecksum of the content, 0 = unknown) is kept across refreshes that
  // don't know it.
  void Insert(const Digest& d, int64_t bytes, uint64_t checksum = 0);
  // Inserts as least recent (for entries discovered with no known recency). No-op if present.
  void InsertOldest(const Digest& d, int64_t bytes);
  // Marks as most recently used; returns the entry's bytes, or nothing when absent.
  std::optional<int64_t> Touch(const Digest& d);
  // Returns the removed entry's bytes, or nothing when absent.
  std::optional<int64_t> Remove(const Digest& d);
  // The least recently used entry, if any, without removing it.
  std::optional<Digest> Oldest() const;

  // The recorded checksum, or 0 when none is.
  uint64_t Checksum(const Digest& d) const;
  void SetChecksum(const Digest& d, uint64_t checksum);

  // Oldest first.
  template <typename F>
  void ForEach(F f) const {
    for (const Digest& d : order_) f(d, entries_.at(d).bytes);
  }
  template <typename F>
  void ForEachWithChecksum(F f) const {
    for (const Digest& d : order_) {
      const Entry& e = entries_.at(d);
      f(d, e.bytes, e.checksum);
    }
  }

 private:
  struct Entry {
    std::list<Digest>::iterator pos;
    int64_t bytes;
    uint64_t checksum = 0;
  };
  std::list<Digest> order_;  // Front = oldest.
  absl::flat_hash_map<Digest, Entry> entries_;
  int64_t total_bytes_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_LRU_INDEX_H_
