// A BlobReader decorator that runs the wrapped reader (disk read + verification hash) on its own
// thread, a few chunks ahead of the consumer, so hashing overlaps with sending instead of
// adding to it. The end-of-blob verdict (clean end or corruption) arrives in order, after the
// last chunk, so the hold-back rule of BlobReader still holds.
#ifndef KFARM_COMMON_PREFETCHING_READER_H_
#define KFARM_COMMON_PREFETCHING_READER_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/blob_access.h"

namespace kfarm {

class PrefetchingReader : public BlobReader {
 public:
  PrefetchingReader(std::unique_ptr<BlobReader> inner, size_t chunk_size, size_t max_chunks);
  ~PrefetchingReader() override;

  absl::StatusOr<size_t> Read(char* buf, size_t max) override;

 private:
  void Produce();

  std::unique_ptr<BlobReader> inner_;
  const size_t chunk_size_;
  const size_t max_chunks_;
  absl::Mutex mu_;
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  size_t front_pos_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // The producer has finished.
  absl::Status end_ ABSL_GUARDED_BY(mu_);       // Its verdict, valid once done_.
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false; // The consumer went away.
  std::thread producer_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_PREFETCHING_READER_H_
