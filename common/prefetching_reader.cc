#include "common/prefetching_reader.h"

#include <cstring>

namespace kfarm {

PrefetchingReader::PrefetchingReader(std::unique_ptr<BlobReader> inner, size_t chunk_size,
                                     size_t max_chunks)
    : inner_(std::move(inner)), chunk_size_(chunk_size), max_chunks_(max_chunks) {
  producer_ = std::thread([this] { Produce(); });
}

PrefetchingReader::~PrefetchingReader() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  producer_.join();
}

void PrefetchingReader::Produce() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return cancelled_ || chunks_.size() < max_chunks_;
      };
      mu_.Await(absl::Condition(&room));
      if (cancelled_) return;
    }
    std::string chunk(chunk_size_, '\0');
    absl::StatusOr<size_t> n = inner_->Read(chunk.data(), chunk.size());
    absl::MutexLock lock(&mu_);
    if (!n.ok() || *n == 0) {
      done_ = true;
      end_ = n.ok() ? absl::OkStatus() : n.status();
      return;
    }
    chunk.resize(*n);
    chunks_.push_back(std::move(chunk));
  }
}

absl::StatusOr<size_t> PrefetchingReader::Read(char* buf, size_t max) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ || !chunks_.empty(); };
  mu_.Await(absl::Condition(&ready));
  if (chunks_.empty()) {
    if (!end_.ok()) return end_;
    return 0;
  }
  std::string& front = chunks_.front();
  size_t n = std::min(max, front.size() - front_pos_);
  std::memcpy(buf, front.data() + front_pos_, n);
  front_pos_ += n;
  if (front_pos_ == front.size()) {
    chunks_.pop_front();
    front_pos_ = 0;
  }
  return n;
}

}  // namespace kfarm
