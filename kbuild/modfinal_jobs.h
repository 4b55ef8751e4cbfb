// The modules of one `kfarm modfinal` run between the make-following producer and the threads
// that run them on the farm, and the progress line.
#ifndef KFARM_KBUILD_MODFINAL_JOBS_H_
#define KFARM_KBUILD_MODFINAL_JOBS_H_

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>

#include "common/digest.h"
#include "common/execution_client.h"
#include "kbuild/module_action_builder.h"
#include "kbuild/recipe.h"

namespace kfarm {

struct Module {
  ModuleRecipe recipe;
  ModuleStep step = ModuleStep::kLink;  // What `action` runs.
  bool executed = false;                 // A step ran on the farm (not an action-cache hit).
  BuiltAction action;
  Digest linked;    // The kLink step's output, for the kBtf step.
  Digest btf_base;  // The base BTF the kBtf step's action was built with.
};

// Modules between the make-following producer and the farm threads. A module is unfinished from
// Add until Finished; between its link and its BTF step it is in no queue.
class Jobs {
 public:
  // A new module, or a finished one sent back to work.
  void Add(Module* m) {
    std::lock_guard<std::mutex> l(mu_);
    unfinished_++;
    ready_.push_back(m);
    cv_.notify_one();
  }
  void Requeue(Module* m) {
    std::lock_guard<std::mutex> l(mu_);
    ready_.push_back(m);
    cv_.notify_one();
  }
  void Finished() {
    std::lock_guard<std::mutex> l(mu_);
    unfinished_--;
    cv_.notify_all();
  }
  void NoMore() {
    std::lock_guard<std::mutex> l(mu_);
    no_more_ = true;
    cv_.notify_all();
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> l(mu_);
    return stopped_;
  }
  // Null once stopped, or when every module is finished and no more will come.
  Module* Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return stopped_ || !ready_.empty() || (no_more_ && unfinished_ == 0); });
    if (stopped_ || ready_.empty()) return nullptr;
    Module* m = ready_.front();
    ready_.pop_front();
    return m;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Module*> ready_;
  int unfinished_ = 0;
  bool no_more_ = false, stopped_ = false;
};

class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(2)) {}
  void Update(int done, int cached, int running, int failed) {
    if (!tty_) return;
    std::lock_guard<std::mutex> l(mu_);
    std::fprintf(stderr, "\r[%d/%zu] %d cached, %d running remotely, %d failed   ", done, total_,
                 cached, running, failed);
  }
  void Finish() {
    if (tty_) std::fprintf(stderr, "\r%80s\r", "");
  }
  std::mutex& mu() { return mu_; }

 private:
  size_t total_;
  bool tty_;
  std::mutex mu_;
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODFINAL_JOBS_H_
