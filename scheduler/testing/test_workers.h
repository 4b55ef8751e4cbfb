// Workers for the scheduler's unit tests: connected through a link that goes nowhere, with the
// slots, queue depth and platform a test gives them. Tests only.
#ifndef KFARM_SCHEDULER_TESTING_TEST_WORKERS_H_
#define KFARM_SCHEDULER_TESTING_TEST_WORKERS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/worker_registry.h"

namespace kfarm {

class NullLink : public WorkerLink {
 public:
  void Send(worker::SchedulerMessage) override {}
  void Close() override {}
};

// Worker `id` in `registry`, connected (seen at `now`), offering each name=value of `offers`.
inline Worker& AddTestWorker(WorkerRegistry& registry, const std::string& id, int slots,
                             int depth = 0,
                             const std::vector<std::pair<std::string, std::string>>& offers = {},
                             absl::Time now = absl::UnixEpoch()) {
  bool fresh = false;
  Worker& w = registry.FindOrAdd(id, &fresh);
  w.slots = slots;
  w.queue_depth = depth;
  w.link = std::make_shared<NullLink>();
  w.last_seen = now;
  worker::Register reg;
  for (const auto& [name, value] : offers) {
    auto* p = reg.add_properties();
    p->set_name(name);
    p->set_value(value);
  }
  w.platform = OfferedPlatform(reg.properties());
  registry.Refresh(w);
  return w;
}

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_TESTING_TEST_WORKERS_H_
