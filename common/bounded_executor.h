// A fixed set of threads running submitted tasks in order of arrival, with at most `capacity`
// waiting. Servers use it to take blocking work (disk reads, action-cache writes) off gRPC's
// callback threads, which must never block: a full executor refuses a task rather than queue
// without bound, and the caller decides (refuse the request, or run it inline as backpressure).
#ifndef KFARM_COMMON_BOUNDED_EXECUTOR_H_
#define KFARM_COMMON_BOUNDED_EXECUTOR_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kfarm {

class BoundedExecutor {
 public:
  BoundedExecutor(std::string name, int threads, size_t capacity);
  // Runs every task already accepted, then joins the threads.
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // False, with `task` not run, when `capacity` tasks are already waiting or it is stopping.
  bool TrySubmit(std::function<void()> task);
  // Tasks accepted and not yet started.
  size_t waiting();
  size_t capacity() const { return capacity_; }
  const std::string& name() const { return name_; }

 private:
  void Run();

  const std::string name_;
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_BOUNDED_EXECUTOR_H_
