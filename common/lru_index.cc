#include "common/lru_index.h"

namespace kfarm {

void LruIndex::Insert(const Digest& d, int64_t bytes, uint64_t checksum) {
  auto it = entries_.find(d);
  if (it != entries_.end()) {
    total_bytes_ += bytes - it->second.bytes;
    it->second.bytes = bytes;
    if (checksum != 0) it->second.checksum = checksum;
    order_.splice(order_.end(), order_, it->second.pos);
    return;
  }
  order_.push_back(d);
  entries_.emplace(d, Entry{std::prev(order_.end()), bytes, checksum});
  total_bytes_ += bytes;
}

void LruIndex::InsertOldest(const Digest& d, int64_t bytes) {
  if (entries_.contains(d)) return;
  order_.push_front(d);
  entries_.emplace(d, Entry{order_.begin(), bytes});
  total_bytes_ += bytes;
}

std::optional<int64_t> LruIndex::Touch(const Digest& d) {
  auto it = entries_.find(d);
  if (it == entries_.end()) return std::nullopt;
  order_.splice(order_.end(), order_, it->second.pos);
  return it->second.bytes;
}

std::optional<int64_t> LruIndex::Remove(const Digest& d) {
  auto it = entries_.find(d);
  if (it == entries_.end()) return std::nullopt;
  int64_t bytes = it->second.bytes;
  total_bytes_ -= bytes;
  order_.erase(it->second.pos);
  entries_.erase(it);
  return bytes;
}

uint64_t LruIndex::Checksum(const Digest& d) const {
  auto it = entries_.find(d);
  return it == entries_.end() ? 0 : it->second.checksum;
}

void LruIndex::SetChecksum(const Digest& d, uint64_t checksum) {
  auto it = entries_.find(d);
  if (it != entries_.end()) it->second.checksum = checksum;
}

std::optional<Digest> LruIndex::Oldest() const {
  if (order_.empty()) return std::nullopt;
  return order_.front();
}

}  // namespace kfarm
