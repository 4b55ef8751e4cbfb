// One stage of a pipeline: a function run over batches of bytes on a thread of its own, in the
// order they were pushed, while the caller goes on with the next batch. Uploads use it to hash on
// one core while the bytes are written to disk on another. Each batch holds its owner until the
// function is done with it; at most `max_pending` batches wait, and Push blocks beyond that, so a
// fast producer cannot queue unbounded memory.
#ifndef KFARM_COMMON_BACKGROUND_STAGE_H_
#define KFARM_COMMON_BACKGROUND_STAGE_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace kfarm {

class BackgroundStage {
 public:
  using Work = std::function<void(absl::Span<const absl::string_view>)>;

  BackgroundStage(Work work, size_t max_pending);
  ~BackgroundStage();  // Processes what was pushed, then stops the thread.
  BackgroundStage(const BackgroundStage&) = delete;
  BackgroundStage& operator=(const BackgroundStage&) = delete;

  void Push(absl::Span<const absl::string_view> pieces, std::shared_ptr<const void> owner);
  // Returns once every batch pushed so far has been processed.
  void Drain();

 private:
  struct Batch {
    std::vector<absl::string_view> pieces;
    std::shared_ptr<const void> owner;
  };
  void Run();

  const Work work_;
  const size_t max_pending_;
  absl::Mutex mu_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_BACKGROUND_STAGE_H_
