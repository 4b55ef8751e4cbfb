// The scheduler's configuration file: any text must parse into a config that is then either
// refused with an error or accepted by every check the server runs before it listens (value
// ranges, the authorization policy, the worker gate).
#include <cstdint>
#include <cstdlib>
#include "absl/strings/string_view.h"

#include "scheduler/authorizer.h"
#include "scheduler/config_loader.h"
#include "scheduler/storage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = kfarm::ParseSchedulerConfig(text, "fuzz.conf");
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();
    return 0;
  }
  kfarm::config::SchedulerConfig c = kfarm::WithDefaults(*parsed);
  if (!kfarm::CheckSchedulerConfig(c).ok()) return 0;
  auto auth = kfarm::Authorizer::Create(c.auth());
  if (!auth.ok()) return 0;
  auto gate = kfarm::WorkerGate::Create(c.worker_listener(), (*auth)->open());
  (void)gate;
  return 0;
}
