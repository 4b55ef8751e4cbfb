// Runs one assignment end to end: stage inputs, create output parents, run the command in the
// sandbox, collect and upload outputs, fill ExecutedActionMetadata, empty the build directory.
// Failures become ExecuteResponse.status (the first one wins); those of the worker rather than
// the action (its disk, its sandbox) are also marked as infrastructure failures, which the
// scheduler retries elsewhere. The command's own failure is just its exit code.
#ifndef KFARM_WORKER_EXECUTOR_H_
#define KFARM_WORKER_EXECUTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "common/cas_client.h"
#include "common/cas_reader.h"
#include "common/file_util.h"
#include "kfarm/worker.pb.h"
#include "worker/action_runner.h"
#include "worker/file_cache.h"
#include "worker/process_runner.h"
#include "worker/sandbox.h"

namespace kfarm {

struct ExecutorOptions {
  std::string build_root;   // Per-execution directories go here.
  std::string worker_name;  // ExecutedActionMetadata.worker.
  SandboxOptions sandbox;
  bool link_inputs = true;  // Hardlink from the cache (only when the sandbox protects it).
};

class Executor : public ActionRunner {
 public:
  // Inputs come through `reader` and `cache`, outputs go to `uploader`. Commands run in each
  // slot's runner from `make_runner`; without one, a bubblewrap sandbox per slot or, with
  // sandboxing off, the worker's own process tree.
  Executor(CasReader* reader, CasUploader* uploader, FileCache* cache, ExecutorOptions options,
           CommandRunnerFactory make_runner = nullptr);

  worker::Completion Run(const worker::Assignment& a, CancelSignal* cancel) override;

 private:
  // Build directories are reused, one per concurrent action, each with its kept-alive sandbox:
  // on ext4, creating and deleting the directory, its root and the stdout/stderr files for
  // every action cost more CPU than a trivial action itself (new inodes skip recently freed ones
  // by scanning the bitmap), and setting bubblewrap up costs several times a trivial action.
  struct Slot {
    std::string dir;  // root/ and tmp/ exist and are empty when acquired.
    UniqueFd out, err;  // io/stdout and io/stderr: empty, at offset 0 when acquired.
    std::unique_ptr<CommandRunner> runner;  // Made on first use.
  };
  absl::StatusOr<Slot> AcquireSlot();
  void ReleaseSlot(Slot slot);

  CasReader* reader_;
  CasUploader* uploader_;
  FileCache* cache_;
  const ExecutorOptions options_;
  const CommandRunnerFactory make_runner_;
  absl::Mutex mu_;
  std::vector<Slot> free_slots_ ABSL_GUARDED_BY(mu_);
  int next_dir_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfarm

#endif  // KFARM_WORKER_EXECUTOR_H_
