#include "scheduler/worker_registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace kfarm {

Worker* WorkerRegistry::Find(const std::string& id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

Worker& WorkerRegistry::FindOrAdd(const std::string& id, bool* fresh) {
  auto [it, added] = workers_.try_emplace(id);
  if (added) it->second.id = id;
  *fresh = added;
  return it->second;
}

void WorkerRegistry::Erase(const std::string& id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  if (w.listed.free > 0) free_.erase(w.listed);
  if (w.listed_spare.free > 0) spare_.erase(w.listed_spare);
  workers_.erase(it);
}

bool WorkerRegistry::IsShort(absl::Duration expected) const {
  return prefetch_below_ > absl::ZeroDuration() && expected > absl::ZeroDuration() &&
         expected < prefetch_below_;
}

void WorkerRegistry::Refresh(Worker& w) {
  const bool usable = w.usable();
  const int running = static_cast<int>(w.running.size());
  const int free = usable ? std::max(0, w.slots - running) : 0;
  int spare = 0;
  if (usable && free == 0 && prefetch_below_ > absl::ZeroDuration()) {
    spare = std::max(0, w.slots + w.queue_depth - running);
    for (const auto& [id, e] : w.running) {
      if (!IsShort(e->expected)) spare = 0;
    }
  }
  if (free != w.listed.free || w.last_assigned != w.listed.last_assigned) {
    if (w.listed.free > 0) free_.erase(w.listed);
    w.listed = FreeKey{free, w.last_assigned, w.id};
    if (free > 0) free_.emplace(w.listed, &w);
  }
  if (spare != w.listed_spare.free || w.last_assigned != w.listed_spare.last_assigned) {
    if (w.listed_spare.free > 0) spare_.erase(w.listed_spare);
    w.listed_spare = FreeKey{spare, w.last_assigned, w.id};
    if (spare > 0) spare_.emplace(w.listed_spare, &w);
  }
}

bool WorkerRegistry::AnyOffers(const reapi::Platform& p) const {
  for (const auto& [id, w] : workers_) {
    if (w.link != nullptr && w.platform.Satisfies(p)) return true;
  }
  return false;
}

bool WorkerRegistry::AnyKnownOffers(const reapi::Platform& p) const {
  for (const auto& [id, w] : workers_) {
    if (w.platform.Satisfies(p)) return true;
  }
  return false;
}

bool WorkerRegistry::AnotherCanRun(const Execution& e) const {
  for (const auto& [id, w] : workers_) {
    if (w.usable() && !e.FailedOn(id) && w.platform.Satisfies(e.params.platform)) return true;
  }
  return false;
}

std::string WorkerRegistry::Unmet(const reapi::Platform& p) const {
  std::vector<std::string> wanted;
  for (const auto& prop : p.properties()) wanted.push_back(prop.name() + "=" + prop.value());
  if (connected() == 0) {
    return wanted.empty() ? "no worker is connected"
                          : absl::StrCat("no worker is connected (wanted: ",
                                         absl::StrJoin(wanted, ", "), ")");
  }
  // Name each wanted property no worker offers, with what they offer instead; if every one is
  // offered somewhere but never all on one worker, say that.
  std::vector<std::string> missing;
  for (const auto& prop : p.properties()) {
    bool offered = false;
    std::set<std::string> values;  // Sorted, each once: a stable message whatever the workers.
    for (const auto& [id, w] : workers_) {
      if (w.link == nullptr) continue;
      reapi::Platform one;
      *one.add_properties() = prop;
      offered |= w.platform.Satisfies(one);
      const std::string offers = w.platform.Offered(prop.name());
      for (absl::string_view v : absl::StrSplit(offers, '|', absl::SkipEmpty())) values.emplace(v);
    }
    if (!offered) {
      missing.push_back(absl::StrCat(prop.name(), "=", prop.value(), " (workers offer ",
                                     values.empty() ? "no " + prop.name()
                                                    : prop.name() + "=" + absl::StrJoin(values, "|"),
                                     ")"));
    }
  }
  if (missing.empty()) {
    return absl::StrCat("no single worker offers all of ", absl::StrJoin(wanted, ", "));
  }
  return absl::StrCat("no connected worker offers ", absl::StrJoin(missing, ", "));
}

size_t WorkerRegistry::connected() const {
  size_t n = 0;
  for (const auto& [id, w] : workers_) n += w.link != nullptr;
  return n;
}

void WorkerRegistry::Lost(Worker& w, absl::Time now) {
  if (w.link == nullptr) return;
  LogWarning("worker ", w.id, " lost with ", w.running.size(), " running action(s)");
  w.link = nullptr;
  w.lost_at = now;
  Refresh(w);
}

bool WorkerRegistry::FailedItself(Worker& w, int max_in_a_row, absl::Time now,
                                  absl::Duration rest) {
  if (++w.infrastructure_failures < max_in_a_row) return false;
  w.resting_until = now + rest;
  Refresh(w);
  return true;
}

WorkerRegistry::Reaped WorkerRegistry::CheckLiveness(absl::Time now, absl::Duration liveness,
                                                     absl::Duration grace) {
  Reaped out;
  std::vector<std::string> forgotten;
  for (auto& [id, w] : workers_) {
    if (w.link != nullptr && now - w.last_seen > liveness) {
      LogWarning("worker ", w.id, " silent for ", absl::FormatDuration(now - w.last_seen));
      out.silent.push_back(w.link);
      Lost(w, now);
    }
    if (w.resting_until != absl::InfinitePast() && now >= w.resting_until) {
      w.resting_until = absl::InfinitePast();
      Refresh(w);
    }
    if (w.link == nullptr && now - w.lost_at > grace) {
      for (auto& [eid, e] : w.running) out.orphaned.emplace_back(id, e);
      forgotten.push_back(id);
    }
  }
  for (const std::string& id : forgotten) Erase(id);
  return out;
}

}  // namespace kfarm
