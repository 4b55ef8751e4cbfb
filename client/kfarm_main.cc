// kfarm: the client command.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "client/cas_commands.h"

ABSL_FLAG(std::string, remote, "grpc://127.0.0.1:8980", "The kfarm scheduler (grpc://HOST:PORT)");
ABSL_FLAG(std::string, instance, "", "REAPI instance name");
ABSL_FLAG(bool, dir, false, "cas get: DIGEST is a directory tree, recreate it at OUT");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kfarm [--remote grpc://HOST:PORT] [--instance NAME] COMMAND ...\n"
      "commands:\n"
      "  cas put PATH              upload a file or directory, print its digest\n"
      "  cas get [--dir] DIGEST OUT  download a blob (or with --dir a directory tree)\n"
      "  cas tree DIGEST           list a directory tree");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (args.empty() || args[0] != "cas") {
    std::cerr << "kfarm: expected a command (try --help)\n";
    return 2;
  }
  kfarm::CasClient client(kfarm::DialRemote(absl::GetFlag(FLAGS_remote)),
                          absl::GetFlag(FLAGS_instance));
  return kfarm::RunCasCommand(client, {args.begin() + 1, args.end()}, absl::GetFlag(FLAGS_dir));
}
