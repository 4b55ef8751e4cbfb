#include "common/background_stage.h"

namespace kfarm {

BackgroundStage::BackgroundStage(Work work, size_t max_pending)
    : work_(std::move(work)), max_pending_(max_pending), thread_([this] { Run(); }) {}

BackgroundStage::~BackgroundStage() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void BackgroundStage::Push(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void> owner) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BackgroundStage* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
        return s->queue_.size() < s->max_pending_;
      },
      this));
  queue_.push_back({{pieces.begin(), pieces.end()}, std::move(owner)});
}

void BackgroundStage::Drain() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BackgroundStage* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
        return s->queue_.empty() && !s->busy_;
      },
      this));
}

void BackgroundStage::Run() {
  for (;;) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      mu_.Await(absl::Condition(
          +[](BackgroundStage* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return !s->queue_.empty() || s->stopping_;
          },
          this));
      if (queue_.empty()) return;  // Stopping, and everything pushed is done.
      batch = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    work_(batch.pieces);
  }
}

}  // namespace kfarm
