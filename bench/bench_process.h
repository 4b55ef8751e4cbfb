// Process helpers shared by the benchmarks that run real kfarm binaries.
#ifndef KFARM_BENCH_BENCH_PROCESS_H_
#define KFARM_BENCH_BENCH_PROCESS_H_

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.h"

namespace kfarm {

// A farm process that ends with the benchmark, even one that crashes or is killed.
inline pid_t Spawn(const std::vector<std::string>& args) { return StartTiedChild(args); }

// The port a server wrote with --port_file, waiting up to 10 s; 0 if it never did.
inline int AwaitPortFile(const std::string& path) {
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    std::ifstream in(path);
    if (!(in >> port)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return port;
}

}  // namespace kfarm

#endif  // KFARM_BENCH_BENCH_PROCESS_H_
