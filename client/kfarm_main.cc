// kfarm: the client command.
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "common/process_init.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include <unistd.h>
#include "client/cas_commands.h"
#include "client/run_command.h"
#include "client/status_command.h"
#include "client/up_command.h"
#include "kbuild/modfinal.h"
#include "kfarm/worker.grpc.pb.h"
#include <grpcpp/client_context.h>

ABSL_FLAG(std::string, remote, "grpc://127.0.0.1:8980", "The kfarm scheduler (grpc://HOST:PORT)");
ABSL_FLAG(std::string, instance, "", "REAPI instance name");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM roots for a grpcs:// scheduler (default: system roots)");
ABSL_FLAG(std::string, tls_client_cert, "", "PEM client certificate (mTLS)");
ABSL_FLAG(std::string, tls_client_key, "", "PEM key of --tls_client_cert");
ABSL_FLAG(std::string, token_file, "",
          "File holding a bearer token, sent as \"authorization: Bearer TOKEN\"");
ABSL_FLAG(bool, dir, false, "cas get: DIGEST is a directory tree, recreate it at OUT");
ABSL_FLAG(std::string, input, "", "run: directory uploaded as the input root");
ABSL_FLAG(std::string, out_dir, "", "run: where outputs are written (default: --input or .)");
ABSL_FLAG(std::vector<std::string>, outputs, {}, "run: output paths, comma-separated");
ABSL_FLAG(std::vector<std::string>, env, {}, "run: environment, NAME=VALUE,...");
ABSL_FLAG(std::vector<std::string>, platform, {}, "run: platform properties, NAME=VALUE,...");
ABSL_FLAG(std::string, cwd, "", "run: working directory inside the input root");
ABSL_FLAG(int, timeout, 0, "run: timeout in seconds (0: the server's default)");
ABSL_FLAG(bool, no_cache, false, "run: do_not_cache, and skip the cache lookup");
ABSL_FLAG(int, priority, 0, "run: execution priority (lower runs first)");
ABSL_FLAG(std::string, invocation_id, "",
          "run: the build this run belongs to (RequestMetadata.tool_invocation_id; default: one "
          "of its own)");
ABSL_FLAG(int, recent, 20, "status: finished operations listed");
ABSL_FLAG(bool, json, false, "status: print the scheduler's answer as JSON");
ABSL_FLAG(int, workers, 2, "up: number of workers");
ABSL_FLAG(int, slots, 0, "up: slots per worker (default: cores / workers)");
ABSL_FLAG(std::string, listen, "127.0.0.1:8980", "up: scheduler address");
ABSL_FLAG(std::string, data_dir, "kfarm-up", "up: data directory");
ABSL_FLAG(std::string, port_file, "", "up: write the scheduler's port here once it listens");
ABSL_FLAG(std::string, http_listen, "",
          "up: the status page and /metrics (HOST:PORT; default: --listen's port + 1; none: off)");
ABSL_FLAG(std::string, sandbox, "bubblewrap", "up: worker sandbox (bubblewrap or none)");
ABSL_FLAG(std::string, C, ".", "modfinal: the kernel build tree");
ABSL_FLAG(int, j, 2, "modfinal: local make -j for the .mod.o compiles");
ABSL_FLAG(bool, k, false, "modfinal: keep going after a module fails, like make -k");
ABSL_FLAG(bool, v, false, "modfinal: print the commands (like V=1)");
ABSL_FLAG(bool, objects_current, false,
          "modfinal: objects and modpost are current (make KBUILD_MODPOST_NOFINAL=1 just ran); "
          "run kbuild's modfinal makefile without walking the tree");
ABSL_FLAG(bool, always_walk, false,
          "modfinal: let make walk the tree even when nothing it reads changed since its last "
          "successful walk here (otherwise skipped)");
ABSL_FLAG(bool, follow, false,
          "modfinal: link vmlinux locally while the farm links the modules; BTF once it exists");
ABSL_FLAG(std::string, timeline, "",
          "modfinal: write when make, the vmlinux link and each module's steps ran (TSV) here");
ABSL_FLAG(bool, module_hashes, false, "modfinal: write the module-hashes Merkle tree");
ABSL_FLAG(std::vector<std::string>, make_args, {}, "modfinal: extra make arguments, comma-separated");

namespace {

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<std::string>& items) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& i : items) out.push_back(absl::StrSplit(i, absl::MaxSplits('=', 1)));
  return out;
}

kfarm::config::ClientCredentials Credentials() {
  kfarm::config::ClientCredentials c;
  c.set_ca_file(absl::GetFlag(FLAGS_tls_ca_file));
  c.set_cert_file(absl::GetFlag(FLAGS_tls_client_cert));
  c.set_key_file(absl::GetFlag(FLAGS_tls_client_key));
  c.set_token_file(absl::GetFlag(FLAGS_token_file));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kfarm [--remote grpc://HOST:PORT] [--instance NAME] COMMAND ...\n"
      "commands:\n"
      "  up                          start a local farm (scheduler + --workers) until Ctrl-C\n"
      "  drain WORKER_ID             let a worker finish its actions and take no new ones\n"
      "  status [OPERATION] [--json] the queue, workers, builds and operations; or one operation\n"
      "  modfinal [-C TREE] [M=DIR] [NAME=VALUE...] [--module_hashes] [--follow|--objects_current]\n"
      "                              the kernel's module final stage on the farm\n"
      "  run [--input DIR] [--outputs a,b] -- ARGS...   run a command on the farm\n"
      "  cas put PATH                upload a file or directory, print its digest\n"
      "  cas get [--dir] DIGEST OUT  download a blob (or with --dir a directory tree)\n"
      "  cas tree DIGEST             list a directory tree");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  const std::string cmd = args.empty() ? "" : args[0];
  if (cmd == "up") {
    kfarm::UpOptions o;
    o.workers = absl::GetFlag(FLAGS_workers);
    o.slots_per_worker = absl::GetFlag(FLAGS_slots);
    o.listen = absl::GetFlag(FLAGS_listen);
    o.data_dir = absl::GetFlag(FLAGS_data_dir);
    o.port_file = absl::GetFlag(FLAGS_port_file);
    o.sandbox = absl::GetFlag(FLAGS_sandbox);
    o.http_listen = absl::GetFlag(FLAGS_http_listen);
    return kfarm::RunUp(o);
  }
  if (cmd == "modfinal") {
    kfarm::ModfinalOptions o;
    o.tree = absl::GetFlag(FLAGS_C);
    o.remote = absl::GetFlag(FLAGS_remote);
    o.credentials = Credentials();
    o.instance = absl::GetFlag(FLAGS_instance);
    o.jobs = absl::GetFlag(FLAGS_j);
    o.keep_going = absl::GetFlag(FLAGS_k);
    o.verbose = absl::GetFlag(FLAGS_v);
    o.module_hashes = absl::GetFlag(FLAGS_module_hashes);
    o.follow = absl::GetFlag(FLAGS_follow);
    o.objects_current = absl::GetFlag(FLAGS_objects_current);
    o.always_walk = absl::GetFlag(FLAGS_always_walk);
    o.make_args = absl::GetFlag(FLAGS_make_args);
    o.timeline = absl::GetFlag(FLAGS_timeline);
    // As with make: NAME=VALUE words are make's variables; M= (or KBUILD_EXTMOD=) names an
    // external module's directory, built against the tree.
    for (size_t i = 1; i < args.size(); ++i) {
      const size_t eq = args[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "kfarm modfinal: unexpected argument \"" << args[i]
                  << "\" (make variables are NAME=VALUE, such as M=DIR)\n";
        return 2;
      }
      const std::string name = args[i].substr(0, eq), value = args[i].substr(eq + 1);
      if (name != "M" && name != "KBUILD_EXTMOD") {
        o.make_args.push_back(args[i]);
        continue;
      }
      char* real = ::realpath(value.c_str(), nullptr);
      if (real == nullptr) {
        std::cerr << "kfarm modfinal: " << name << "=" << value << ": " << std::strerror(errno) << "\n";
        return 2;
      }
      o.extmod = real;
      std::free(real);
    }
    return kfarm::RunModfinal(o);
  }
  auto dialed = kfarm::Dial(absl::GetFlag(FLAGS_remote), Credentials());
  if (!dialed.ok()) {
    std::cerr << "kfarm: " << dialed.status().message() << "\n";
    return 2;
  }
  auto channel = *dialed;
  kfarm::CasClient cas(channel, absl::GetFlag(FLAGS_instance));
  if (cmd == "cas") {
    return kfarm::RunCasCommand(cas, {args.begin() + 1, args.end()}, absl::GetFlag(FLAGS_dir));
  }
  if (cmd == "run" && args.size() > 1) {
    kfarm::ExecutionClient exec(channel, absl::GetFlag(FLAGS_instance));
    kfarm::RunOptions o;
    o.input_dir = absl::GetFlag(FLAGS_input);
    o.out_dir = absl::GetFlag(FLAGS_out_dir);
    o.spec.arguments.assign(args.begin() + 1, args.end());
    o.spec.output_paths = absl::GetFlag(FLAGS_outputs);
    o.spec.environment = Pairs(absl::GetFlag(FLAGS_env));
    o.spec.platform = Pairs(absl::GetFlag(FLAGS_platform));
    o.spec.working_directory = absl::GetFlag(FLAGS_cwd);
    o.spec.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout));
    o.spec.do_not_cache = absl::GetFlag(FLAGS_no_cache);
    o.skip_cache_lookup = absl::GetFlag(FLAGS_no_cache);
    o.priority = absl::GetFlag(FLAGS_priority);
    o.invocation_id = absl::GetFlag(FLAGS_invocation_id);
    if (o.invocation_id.empty()) {
      o.invocation_id = absl::StrFormat("kfarm-run-%d-%d", getpid(), absl::ToUnixNanos(absl::Now()));
    }
    return kfarm::RunRemote(cas, exec, o);
  }
  if (cmd == "status" && args.size() <= 2) {
    kfarm::StatusOptions o;
    if (args.size() == 2) o.operation = args[1];
    o.recent = absl::GetFlag(FLAGS_recent);
    o.json = absl::GetFlag(FLAGS_json);
    return kfarm::RunStatus(channel, o, std::cout, std::cerr);
  }
  if (cmd == "drain" && args.size() == 2) {
    auto stub = kfarm::worker::WorkerService::NewStub(channel);
    kfarm::worker::DrainRequest req;
    req.set_worker_id(args[1]);
    kfarm::worker::DrainResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->Drain(&ctx, req, &resp);
    if (!s.ok()) {
      std::cerr << "kfarm drain: " << s.error_message() << "\n";
      return 1;
    }
    std::cout << "worker " << args[1] << " is draining\n";
    return 0;
  }
  std::cerr << "kfarm: expected a command: up, run, status, drain, cas, modfinal (try --help)\n";
  return 2;
}
