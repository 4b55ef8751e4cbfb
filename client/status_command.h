// `kfarm status`: the queue, workers, builds and operations from the command line, over the
// scheduler's StatusService (the same data as its status page); `kfarm status OPERATION` tells
// one operation's story: command, timeline and output.
#ifndef KFARM_CLIENT_STATUS_COMMAND_H_
#define KFARM_CLIENT_STATUS_COMMAND_H_

#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/channel.h>

#include "kfarm/status.pb.h"

namespace kfarm {

struct StatusOptions {
  std::string operation;  // "": the overview.
  int recent = 20;        // Finished operations listed.
  bool json = false;
};

// Returns the exit code: 0, or 1 after printing the scheduler's error to `err`.
int RunStatus(const std::shared_ptr<grpc::Channel>& channel, const StatusOptions& options,
              std::ostream& out, std::ostream& err);

// The text forms, apart from the call, for tests.
void PrintStatus(const status::StatusReport& report, std::ostream& out);
void PrintOperation(const status::OperationDetail& detail, std::ostream& out);

}  // namespace kfarm

#endif  // KFARM_CLIENT_STATUS_COMMAND_H_
