// kfarm-scheduler: the one endpoint REAPI clients talk to.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/process_init.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "scheduler/config_loader.h"
#include "scheduler/server.h"
#include "scheduler/storage.h"

ABSL_FLAG(std::string, config, "", "Scheduler configuration file (protobuf text format, "
                                   "kfarm.config.SchedulerConfig); flags override it");
ABSL_FLAG(std::string, listen, "", "Address to listen on (default 127.0.0.1:8980; port 0 = any)");
ABSL_FLAG(std::string, data_dir, "", "Directory for the CAS and action cache (default ./kfarm-data)");
ABSL_FLAG(std::string, storage, "", "Storage backend: disk (default) or memory");
ABSL_FLAG(std::string, port_file, "", "Write the listening port to this file once serving");
ABSL_FLAG(std::string, http_listen, "",
          "Operators' HTTP listener for /metrics, /healthz and /readyz (host:port; port 0 = any)");
ABSL_FLAG(std::string, http_port_file, "", "Write the HTTP listener's port to this file");
ABSL_FLAG(std::string, worker_port_file, "",
          "Write the worker listener's port to this file once serving (with worker_listener)");
ABSL_FLAG(bool, check_config, false,
          "Check the configuration (with the other flags applied) and exit: 0 when it would serve");
ABSL_FLAG(bool, insecure, false,
          "Serve a non-loopback address without TLS or authentication (trusted networks only)");

namespace {

int Fail(const std::string& message) {
  std::cerr << "kfarm-scheduler: " << message << "\n";
  return 1;
}

// The address as bound: the configured host, with the port the kernel chose for ":0".
std::string Bound(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  if (absl::StartsWith(listen, "unix:") || colon == std::string::npos) return listen;
  return absl::StrCat(listen.substr(0, colon + 1), port);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kfarm-scheduler [--config FILE] [--listen ADDR] [--data_dir DIR]");
  absl::ParseCommandLine(argc, argv);
  kfarm::InitServerProcess();

  kfarm::config::SchedulerConfig config;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    std::ifstream in(path);
    if (!in) return Fail(absl::StrCat("cannot read config ", path));
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = kfarm::ParseSchedulerConfig(text.str(), path);
    if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
    config = *std::move(parsed);
  }
  if (auto v = absl::GetFlag(FLAGS_listen); !v.empty()) config.set_listen_address(v);
  if (auto v = absl::GetFlag(FLAGS_data_dir); !v.empty()) config.set_data_dir(v);
  if (auto v = absl::GetFlag(FLAGS_http_listen); !v.empty()) config.set_http_listen_address(v);
  if (absl::GetFlag(FLAGS_insecure)) config.set_insecure(true);
  if (auto v = absl::GetFlag(FLAGS_storage); !v.empty()) {
    if (v == "memory") {
      config.mutable_storage()->set_backend(kfarm::config::StorageConfig::MEMORY);
    } else if (v == "disk") {
      config.mutable_storage()->set_backend(kfarm::config::StorageConfig::DISK);
    } else {
      return Fail(absl::StrCat("--storage=", v, ": expected disk or memory"));
    }
  }

  if (absl::GetFlag(FLAGS_check_config)) {
    if (absl::Status s = kfarm::SchedulerServer::Validate(config); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    std::cout << "kfarm-scheduler: the configuration is valid\n";
    return 0;
  }
  // Signals are taken by a dedicated thread so shutdown runs outside a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = kfarm::SchedulerServer::Start(config);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  kfarm::LogInfo("kfarm-scheduler serving clients on ",
                 Bound(kfarm::WithDefaults(config).listen_address(), (*server)->port()),
                 config.tls().cert_file().empty() ? " (plaintext)" : " (TLS)");
  if (!config.worker_listener().listen_address().empty()) {
    kfarm::LogInfo("kfarm-scheduler serving workers on ",
                   Bound(config.worker_listener().listen_address(), (*server)->worker_port()),
                   config.worker_listener().tls().cert_file().empty() ? " (plaintext)" : " (TLS)");
  }
  // Renamed into place so a reader never sees a half-written number.
  auto write_port = [](const std::string& path, int port) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), path.c_str());
  };
  if ((*server)->http_port() != 0) {
    kfarm::LogInfo("kfarm-scheduler serving its status page, /metrics, /healthz and /readyz on http://",
                   Bound(config.http_listen_address(), (*server)->http_port()));
  }
  write_port(absl::GetFlag(FLAGS_http_port_file), (*server)->http_port());
  write_port(absl::GetFlag(FLAGS_worker_port_file), (*server)->worker_port());
  write_port(absl::GetFlag(FLAGS_port_file), (*server)->port());
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    kfarm::LogInfo("kfarm-scheduler: signal ", sig, ", shutting down");
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.detach();
  return 0;
}
