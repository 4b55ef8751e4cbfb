// `kfarm up`: a local farm — one scheduler and W workers on loopback — until Ctrl-C.
#ifndef KFARM_CLIENT_UP_COMMAND_H_
#define KFARM_CLIENT_UP_COMMAND_H_

#include <string>

namespace kfarm {

struct UpOptions {
  int workers = 2;
  int slots_per_worker = 0;  // 0: cores / workers, at least 1.
  std::string listen = "127.0.0.1:8980";
  std::string data_dir = "kfarm-up";
  std::string port_file;     // Written once the scheduler listens.
  std::string sandbox = "bubblewrap";
  // The scheduler's status page and /metrics: "" puts it on listen's host at listen's port + 1
  // (port 0 stays 0: a free one); "none" serves none.
  std::string http_listen;
};

int RunUp(const UpOptions& options);

}  // namespace kfarm

#endif  // KFARM_CLIENT_UP_COMMAND_H_
