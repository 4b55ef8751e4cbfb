// kfarm-worker: runs actions for a kfarm scheduler.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/process_init.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/http_server.h"
#include "common/host_platform.h"
#include "common/log.h"
#include "common/text_config.h"
#include "common/tool_versions.h"
#include "kfarm/config.pb.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "worker/executor.h"
#include "worker/sandbox.h"
#include "worker/sandbox_paths.h"
#include "worker/worker_loop.h"
#include "worker/worker_metrics.h"

ABSL_FLAG(std::string, config, "", "Worker configuration (text format, kfarm.config.WorkerConfig)");
ABSL_FLAG(std::string, scheduler, "", "Scheduler address (default grpc://127.0.0.1:8980)");
ABSL_FLAG(std::string, data_dir, "", "Cache and build directories (default ./kfarm-worker)");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM roots for a grpcs:// scheduler (default: system roots)");
ABSL_FLAG(std::string, tls_client_cert, "", "PEM worker certificate, signed by the worker CA");
ABSL_FLAG(std::string, tls_client_key, "", "PEM key of --tls_client_cert");
ABSL_FLAG(std::string, token_file, "", "File holding the worker token");
ABSL_FLAG(std::string, worker_id, "", "Stable worker name (default host:data_dir)");
ABSL_FLAG(std::string, http_listen, "",
          "Operators' HTTP listener for /metrics, /healthz and /readyz (host:port; port 0 = any)");
ABSL_FLAG(std::string, http_port_file, "", "Write the HTTP listener's port to this file");
ABSL_FLAG(bool, check_config, false,
          "Check the configuration (with the other flags applied) and exit: 0 when it is valid");
ABSL_FLAG(int, slots, 0, "Concurrent actions (default: number of cores)");
ABSL_FLAG(int, queue_depth, 0, "Assignments held beyond the slots (default 1; -1: none)");
ABSL_FLAG(std::string, sandbox, "", "bubblewrap (default) or none (trusted setups only)");
ABSL_FLAG(std::vector<std::string>, property, {}, "Extra platform properties, NAME=VALUE,...");
ABSL_FLAG(bool, detect_tools, true,
          "Advertise this machine's ld/objcopy/pahole versions (kfarm.tool.*) as properties");
ABSL_FLAG(std::string, tool_path, "",
          "Where --detect_tools looks for ld/objcopy/pahole (PATH-style; default $PATH)");

namespace {

// Root in the initial user namespace can give cache files away; root inside a container or
// another sandbox often cannot (the uid is unmapped), so try it.
bool CanChown(const std::string& dir, int uid) {
  if (geteuid() != 0) return false;
  std::string probe = dir + "/.chown-probe";
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) return false;
  bool ok = fchown(fd, uid, uid) == 0;
  close(fd);
  unlink(probe.c_str());
  return ok;
}

// Whether uid 0 here is uid 0 of the parent user namespace (the whole chain cannot be seen;
// one level is what a container or a test sandbox adds).
bool RootIsHostRoot() {
  std::ifstream map("/proc/self/uid_map");
  long inside = -1, outside = -1, count = 0;
  while (map >> inside >> outside >> count) {
    if (inside <= 0 && 0 < inside + count) return outside - inside == 0;
  }
  return true;
}

// The limits of the config, defaults filled in; 0 in the result means none.
kfarm::ResourceLimits Limits(const kfarm::config::WorkerConfig& c) {
  const kfarm::config::ActionLimits& l = c.limits();
  auto pick = [](int64_t v, int64_t by_default) { return v < 0 ? 0 : v == 0 ? by_default : v; };
  const int64_t ram = int64_t{sysconf(_SC_PHYS_PAGES)} * sysconf(_SC_PAGESIZE);
  kfarm::ResourceLimits r;
  r.memory_bytes = pick(l.memory_bytes(), std::max<int64_t>(ram / std::max(1, c.slots()), 256 << 20));
  r.max_processes = pick(l.max_processes(), 4096);
  r.max_file_bytes = pick(l.max_file_bytes(), int64_t{64} << 30);
  r.disk_reserve_bytes = pick(l.disk_reserve_bytes(), int64_t{1} << 30);
  return r;
}

// A worker id as a cgroup directory name: anything but [A-Za-z0-9_.-] becomes '_'.
std::string CgroupName(std::string id) {
  for (char& ch : id) {
    if (!absl::ascii_isalnum(ch) && ch != '_' && ch != '.' && ch != '-') ch = '_';
  }
  return id.substr(0, 200);
}

int Fail(const std::string& m) {
  std::cerr << "kfarm-worker: " << m << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A worker holds one or two connections, and with the poll engine its two stream threads (one
  // reading assignments, one writing completions) cost less per action than with epoll1: 357 vs
  // 377 µs of worker CPU per action in the scale benchmark. GRPC_POLL_STRATEGY still overrides.
  setenv("GRPC_POLL_STRATEGY", "poll", /*overwrite=*/0);
  absl::SetProgramUsageMessage("kfarm-worker [--config FILE] [--scheduler grpc://HOST:PORT]");
  absl::ParseCommandLine(argc, argv);
  kfarm::InitServerProcess();
  // Blocked before any thread starts (the stores' reconcilers, gRPC's, the HTTP listener's), so
  // SIGTERM and SIGINT reach only the waiter below, which drains; a thread that had them
  // unblocked would take the default action and kill the worker mid-action.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  kfarm::config::WorkerConfig c;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto text = kfarm::ReadFile(path);
    if (!text.ok()) return Fail(std::string(text.status().message()));
    if (absl::Status s = kfarm::ParseTextConfig(*text, path, &c); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  if (auto v = absl::GetFlag(FLAGS_scheduler); !v.empty()) c.set_scheduler(v);
  if (auto v = absl::GetFlag(FLAGS_data_dir); !v.empty()) c.set_data_dir(v);
  if (auto v = absl::GetFlag(FLAGS_tls_ca_file); !v.empty()) c.mutable_credentials()->set_ca_file(v);
  if (auto v = absl::GetFlag(FLAGS_tls_client_cert); !v.empty()) {
    c.mutable_credentials()->set_cert_file(v);
  }
  if (auto v = absl::GetFlag(FLAGS_tls_client_key); !v.empty()) c.mutable_credentials()->set_key_file(v);
  if (auto v = absl::GetFlag(FLAGS_token_file); !v.empty()) c.mutable_credentials()->set_token_file(v);
  if (auto v = absl::GetFlag(FLAGS_worker_id); !v.empty()) c.set_worker_id(v);
  if (auto v = absl::GetFlag(FLAGS_http_listen); !v.empty()) c.set_http_listen_address(v);
  if (int v = absl::GetFlag(FLAGS_slots); v > 0) c.set_slots(v);
  if (int v = absl::GetFlag(FLAGS_queue_depth); v != 0) c.set_queue_depth(v);
  if (auto v = absl::GetFlag(FLAGS_sandbox); !v.empty()) {
    if (v == "none") {
      c.set_sandbox(kfarm::config::WorkerConfig::NONE);
    } else if (v != "bubblewrap") {
      return Fail("--sandbox=" + v + ": expected bubblewrap or none");
    }
  }
  for (const std::string& p : absl::GetFlag(FLAGS_property)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(p, absl::MaxSplits('=', 1));
    if (kv.first.empty()) return Fail("--property " + p + ": expected NAME=VALUE");
    auto* prop = c.add_properties();
    prop->set_name(kv.first);
    prop->set_value(kv.second);
  }
  if (c.scheduler().empty()) c.set_scheduler("grpc://127.0.0.1:8980");
  if (c.data_dir().empty()) c.set_data_dir("kfarm-worker");
  if (c.slots() <= 0) c.set_slots(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (c.cache_max_bytes() <= 0) c.set_cache_max_bytes(int64_t{10} << 30);
  if (c.readonly_paths_size() == 0) {
    for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"}) c.add_readonly_paths(p);
  }
  if (c.cache_owner_uid() <= 0) c.set_cache_owner_uid(65533);
  if (c.action_uid() <= 0) c.set_action_uid(65534);
  if (c.isa().empty()) c.set_isa(kfarm::HostIsa());
  if (c.queue_depth() == 0) c.set_queue_depth(1);
  if (c.queue_depth() < -1 || c.queue_depth() > 1024) {
    return Fail(absl::StrCat("queue_depth ", c.queue_depth(), " is out of range: -1 (none) to 1024"));
  }
  if (c.sandbox_uid() == 0) c.set_sandbox_uid(1000);
  if (c.sandbox_uid() < 0) return Fail(absl::StrCat("sandbox_uid ", c.sandbox_uid(), " is negative"));
  if (absl::GetFlag(FLAGS_check_config)) {
    std::cout << "kfarm-worker: the configuration is valid\n";
    return 0;
  }
  // Looked up once: the sandbox must not change under running actions with $PATH.
  const std::string bwrap = kfarm::FindExecutable(c.bubblewrap_path().empty() ? "bwrap" : c.bubblewrap_path());
  const std::string setpriv = kfarm::FindExecutable(c.setpriv_path().empty() ? "setpriv" : c.setpriv_path());
  std::error_code ec;
  std::string data = std::filesystem::absolute(c.data_dir()).lexically_normal().string();
  if (c.worker_id().empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    c.set_worker_id(absl::StrCat(host, ":", data));
  }
  const bool bubblewrap = c.sandbox() == kfarm::config::WorkerConfig::BUBBLEWRAP;
  if (bubblewrap && bwrap.empty()) {
    return Fail(absl::StrCat("sandbox bubblewrap needs ",
                             c.bubblewrap_path().empty() ? "bwrap on PATH" : c.bubblewrap_path(),
                             " (Debian package bubblewrap; or set bubblewrap_path); "
                             "or choose --sandbox=none for a trusted setup"));
  }
  if (bubblewrap && access(kfarm::SandboxInitPath().c_str(), X_OK) != 0) {
    return Fail("sandbox bubblewrap needs " + kfarm::SandboxInitPath() +
                " (built and installed next to kfarm-worker)");
  }
  // Hardlinked inputs are safe only if the action cannot write or chmod them: cached files
  // are owned by another uid, which needs root here and the sandbox's user namespace.
  std::filesystem::remove_all(data + "/build", ec);
  std::filesystem::create_directories(data + "/build", ec);
  const bool protect = bubblewrap && CanChown(data + "/build", c.cache_owner_uid());
  if (!protect) {
    kfarm::LogWarning("inputs are copied, not hardlinked: that needs bubblewrap and the right "
                      "to chown cache files to uid ", c.cache_owner_uid());
  }
  // Root's user namespace would map the action's uid to host root: actions run as another
  // user. Set up before the first thread starts (gRPC's, at the dial).
  std::optional<kfarm::SandboxPaths> sandbox_paths;
  // Root that cannot give a file to the action uid is root of a user namespace without it (a
  // container, Bazel's test sandbox): not host root, and setpriv could not switch to it either.
  const bool switch_user = bubblewrap && CanChown(data + "/build", c.action_uid());
  if (bubblewrap && geteuid() == 0 && !switch_user) {
    if (RootIsHostRoot()) {
      return Fail(absl::StrCat(
          "actions would run as host root: this worker is root, but uid ", c.action_uid(),
          " (action_uid) is not mapped in its user namespace; map it, set action_uid to a mapped "
          "uid, or run the worker as an unprivileged user"));
    }
    kfarm::LogWarning("actions run as this worker's uid 0, which is not host root here (uid ",
                      c.action_uid(), " is not mapped in this user namespace)");
  }
  if (switch_user) {
    if (c.action_uid() == c.cache_owner_uid()) {
      return Fail(absl::StrCat("action_uid and cache_owner_uid are both ", c.action_uid(),
                               ": actions could change cached files through their hardlinks"));
    }
    if (setpriv.empty()) {
      return Fail(absl::StrCat("a root worker runs actions as uid ", c.action_uid(), " through ",
                               c.setpriv_path().empty() ? "setpriv on PATH" : c.setpriv_path(),
                               " (Debian package util-linux; or set setpriv_path), which is missing"));
    }
    auto paths = kfarm::ExposeToActionUser(data + "/build", kfarm::SandboxInitPath());
    if (!paths.ok()) return Fail(std::string(paths.status().message()));
    sandbox_paths = *paths;
  }
  // Before the first thread: on cgroup v2 the worker may move itself into a leaf cgroup.
  const absl::Status cgroups = bubblewrap ? kfarm::CheckCgroups() : absl::OkStatus();
  auto dialed = kfarm::Dial(c.scheduler(), c.credentials());
  if (!dialed.ok()) return Fail(std::string(dialed.status().message()));
  auto channel = *dialed;
  kfarm::CasClient cas(channel, "");
  auto cache = kfarm::FileCache::Open(
      {data + "/cache", c.cache_max_bytes(), protect ? c.cache_owner_uid() : -1}, &cas);
  if (!cache.ok()) return Fail(std::string(cache.status().message()));

  kfarm::ExecutorOptions eo;
  eo.build_root = data + "/build";
  eo.worker_name = c.worker_id();
  eo.sandbox.bubblewrap = bubblewrap;
  eo.sandbox.bwrap_path = bwrap;
  eo.sandbox.setpriv_path = setpriv;
  eo.sandbox.sandbox_uid = c.sandbox_uid();
  eo.sandbox.readonly_paths.assign(c.readonly_paths().begin(), c.readonly_paths().end());
  if (sandbox_paths) {
    eo.sandbox.action_uid = eo.sandbox.action_gid = c.action_uid();
    eo.sandbox.paths = *sandbox_paths;
  }
  eo.sandbox.limits = Limits(c);
  if (bubblewrap && cgroups.ok()) {
    eo.sandbox.cgroup_prefix = CgroupName(c.worker_id());
  } else if (bubblewrap) {
    kfarm::LogWarning("actions are not capped in memory or processes (", cgroups.message(),
                      "); the file size limit and the disk reserve still hold");
  }
  eo.link_inputs = protect;
  auto registry = std::make_shared<prometheus::Registry>();
  kfarm::WorkerMetrics metrics(*registry);
  eo.sandbox.started = [&metrics](absl::Duration took) { metrics.SandboxStarted(took); };
  kfarm::Executor executor(&cas, &cas, cache->get(), eo);
  kfarm::MeteredActionRunner metered(&executor, &metrics);

  kfarm::WorkerOptions wo;
  wo.scheduler = c.scheduler();
  wo.worker_id = c.worker_id();
  wo.slots = c.slots();
  wo.queue_depth = std::max(0, c.queue_depth());
  for (const auto& [name, value] : {std::pair<std::string, std::string>{"OSFamily", "linux"},
                                    {"ISA", c.isa()}}) {
    kfarm::reapi::Platform::Property prop;
    prop.set_name(name);
    prop.set_value(value);
    wo.properties.push_back(prop);
  }
  // The kernel modfinal tools this machine has, so modules only run where the bytes match; looked
  // at again on every heartbeat, so a tool installed or upgraded later is offered without a restart.
  std::unique_ptr<kfarm::ToolWatch> tools;
  if (absl::GetFlag(FLAGS_detect_tools)) {
    std::string path = absl::GetFlag(FLAGS_tool_path);
    if (path.empty()) path = getenv("PATH") != nullptr ? getenv("PATH") : "/usr/bin:/bin";
    tools = std::make_unique<kfarm::ToolWatch>(path);
    wo.tools = tools.get();
  }
  wo.properties.insert(wo.properties.end(), c.properties().begin(), c.properties().end());
  kfarm::WorkerLoop loop(wo, channel, &metered, cache->get());
  std::atomic<bool> stop{false};
  std::atomic<const char*> stop_reason{"stopped"};
  std::unique_ptr<kfarm::HttpServer> http;
  if (std::string address = c.http_listen_address(); !address.empty()) {
    kfarm::FileCache* file_cache = cache->get();
    std::map<std::string, kfarm::HttpServer::Handler> handlers;
    handlers["/metrics"] = [registry, file_cache](const kfarm::HttpRequest&) {
      std::vector<prometheus::MetricFamily> families = registry->Collect();
      for (auto& f : kfarm::WorkerMetrics::CacheCounters(*file_cache)) {
        families.push_back(std::move(f));
      }
      return kfarm::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                 prometheus::TextSerializer().Serialize(families)};
    };
    handlers["/healthz"] = [](const kfarm::HttpRequest&) {
      return kfarm::HttpResponse{200, "text/plain", "ok\n"};
    };
    handlers["/readyz"] = [&loop](const kfarm::HttpRequest&) {
      if (loop.draining()) return kfarm::HttpResponse{503, "text/plain", "draining\n"};
      return kfarm::HttpResponse{200, "text/plain", "ready\n"};
    };
    auto started = kfarm::HttpServer::Start(address, std::move(handlers));
    if (!started.ok()) return Fail(std::string(started.status().message()));
    http = std::move(*started);
    kfarm::LogInfo("kfarm-worker serving /metrics, /healthz and /readyz on http port ",
                   http->port());
    if (std::string path = absl::GetFlag(FLAGS_http_port_file); !path.empty()) {
      std::ofstream(path + ".tmp") << http->port() << "\n";
      std::rename((path + ".tmp").c_str(), path.c_str());
    }
  }

  // The first SIGTERM or SIGINT drains: the worker takes nothing new, finishes what it holds,
  // sees each completion received, and exits. A second one exits at once (the scheduler then
  // runs what was left elsewhere).
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    kfarm::LogInfo("kfarm-worker ", c.worker_id(), ": signal ", sig,
                   ", draining (send it again to stop at once)");
    stop_reason = "drained";
    loop.Drain();
    const struct timespec tick = {0, 100 * 1000 * 1000};
    while (!loop.Drained()) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) {
        stop_reason = "stopped before draining";
        break;
      }
    }
    stop = true;
    loop.Stop();
  });
  kfarm::LogInfo("kfarm-worker ", c.worker_id(), ": ", c.slots(), " slots, sandbox ",
                 bubblewrap ? "bubblewrap" : "none",
                 eo.sandbox.action_uid >= 0 ? absl::StrCat(" (actions as host uid ", eo.sandbox.action_uid, ")") : "",
                 bubblewrap ? absl::StrCat(", per action at most ",
                                           eo.sandbox.cgroup_prefix.empty() ? "" : absl::StrCat(
                                               kfarm::DescribeBytes(eo.sandbox.limits.memory_bytes), " of memory, ",
                                               eo.sandbox.limits.max_processes, " processes, "),
                                           "files of ", kfarm::DescribeBytes(eo.sandbox.limits.max_file_bytes))
                            : "",
                 ", scheduler ", c.scheduler());
  loop.Run(&stop);
  waiter.join();
  kfarm::LogInfo("kfarm-worker ", c.worker_id(), ": ", stop_reason.load());
  http.reset();  // Its handlers read the cache and the metrics.
  return 0;
}
