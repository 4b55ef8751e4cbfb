// Process helpers shared by the benchmarks that run real kfarm binaries.
#ifndef KFARM_BENCH_BENCH_PROCESS_H_
#define KFARM_BENCH_BENCH_PROCESS_H_

#include <spawn.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace kfarm {

inline pid_t Spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

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
