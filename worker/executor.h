// Runs one assignment end to end: stage inputs, create output parents, run the command in the
// sandbox, collect and upload outputs, fill ExecutedActionMetadata, remove the build directory.
// Infrastructure failures become ExecuteResponse.status (the first one wins); the command's own
// failure is just its exit code.
#ifndef KFARM_WORKER_EXECUTOR_H_
#define KFARM_WORKER_EXECUTOR_H_

#include <string>

#include "common/cas_client.h"
#include "kfarm/worker.pb.h"
#include "worker/file_cache.h"
#include "worker/process_runner.h"

namespace kfarm {

struct ExecutorOptions {
  std::string build_root;   // Per-execution directories go here.
  std::string worker_name;  // ExecutedActionMetadata.worker.
  SandboxOptions sandbox;
  bool link_inputs = true;  // Hardlink from the cache (only when the sandbox protects it).
};

class Executor {
 public:
  Executor(CasClient* cas, FileCache* cache, ExecutorOptions options)
      : cas_(cas), cache_(cache), options_(std::move(options)) {}

  reapi::ExecuteResponse Run(const worker::Assignment& a, CancelSignal* cancel);

 private:
  CasClient* cas_;
  FileCache* cache_;
  const ExecutorOptions options_;
};

}  // namespace kfarm

#endif  // KFARM_WORKER_EXECUTOR_H_
