#include "scheduler/storage.h"

#include <algorithm>
#include <cstdint>

#include "common/completeness_checking_blob_access.h"
#include "common/disk_blob_access.h"
#include "common/memory_blob_access.h"
#include "common/metrics_blob_access.h"
#include "common/status.h"
#include "common/verifying_blob_access.h"

namespace kfarm {

config::SchedulerConfig WithDefaults(config::SchedulerConfig c) {
  if (c.listen_address().empty()) c.set_listen_address("127.0.0.1:8980");
  if (c.data_dir().empty()) c.set_data_dir("kfarm-data");
  auto* s = c.mutable_storage();
  if (s->cas_max_bytes() <= 0) s->set_cas_max_bytes(int64_t{10} << 30);
  if (s->ac_max_bytes() <= 0) s->set_ac_max_bytes(int64_t{256} << 20);
  if (c.max_batch_total_size_bytes() <= 0) c.set_max_batch_total_size_bytes(int64_t{4} << 20);
  if (c.upload_idle_seconds() <= 0) c.set_upload_idle_seconds(60);
  if (c.max_idle_uploads() <= 0) c.set_max_idle_uploads(256);
  if (c.max_idle_upload_bytes() <= 0) c.set_max_idle_upload_bytes(int64_t{1} << 30);
  if (c.max_concurrent_streams() <= 0) c.set_max_concurrent_streams(5000);
  auto* e = c.mutable_execution();
  if (e->default_timeout_seconds() <= 0) e->set_default_timeout_seconds(3600);
  if (e->max_timeout_seconds() <= 0) e->set_max_timeout_seconds(4 * 3600);
  if (e->heartbeat_interval_ms() <= 0) e->set_heartbeat_interval_ms(2000);
  if (e->keepalive_interval_ms() <= 0) e->set_keepalive_interval_ms(10000);
  if (e->lost_worker_grace_ms() <= 0) {
    // Saturating: an absurd heartbeat is refused by CheckSchedulerConfig, naming it.
    e->set_lost_worker_grace_ms(3 * std::min<int64_t>(e->heartbeat_interval_ms(), INT64_MAX / 3));
  }
  if (e->abandoned_operation_ms() <= 0) e->set_abandoned_operation_ms(60000);
  if (e->no_worker_grace_ms() <= 0) e->set_no_worker_grace_ms(30000);
  if (e->max_worker_deaths() <= 0) e->set_max_worker_deaths(3);
  if (e->staging_and_upload_allowance_ms() <= 0) e->set_staging_and_upload_allowance_ms(600000);
  if (e->max_input_tree_entries() == 0) e->set_max_input_tree_entries(4000000);
  if (e->max_input_tree_bytes() == 0) e->set_max_input_tree_bytes(uint64_t{256} << 30);
  if (e->max_input_tree_depth() <= 0) e->set_max_input_tree_depth(512);
  if (e->max_pending_operations_per_principal() <= 0) {
    e->set_max_pending_operations_per_principal(50000);
  }
  if (e->completed_retention_ms() <= 0) e->set_completed_retention_ms(600000);
  if (e->prefetch_below_ms() == 0) e->set_prefetch_below_ms(1000);
  return c;
}

absl::StatusOr<Storage> OpenStorage(const config::SchedulerConfig& c,
                                    prometheus::Registry& registry) {
  // The decorators make the stores what they are: a CAS verifies every blob against its digest,
  // the action cache serves a result only while its outputs are in the CAS.
  const auto& s = c.storage();
  Storage out;
  std::unique_ptr<BlobAccess> cas_base, results_base;
  if (s.backend() == config::StorageConfig::MEMORY) {
    cas_base = std::make_unique<MemoryBlobAccess>(s.cas_max_bytes());
    results_base = std::make_unique<MemoryBlobAccess>(s.ac_max_bytes());
  } else {
    ASSIGN_OR_RETURN(auto cas_disk, DiskBlobAccess::Open({c.data_dir() + "/cas", s.cas_max_bytes()}));
    ASSIGN_OR_RETURN(auto ac_disk, DiskBlobAccess::Open({c.data_dir() + "/ac", s.ac_max_bytes()}));
    out.disks = {{"cas", cas_disk.get()}, {"ac", ac_disk.get()}};
    cas_base = std::move(cas_disk);
    results_base = std::move(ac_disk);
  }
  out.cas = std::make_unique<MetricsBlobAccess>(
      std::make_unique<VerifyingBlobAccess>(std::move(cas_base)), "cas", registry);
  // Completeness is checked against the CAS's own layers, so its reads do not count as the
  // clients' CAS traffic.
  BlobAccess* cas_verified = static_cast<MetricsBlobAccess*>(out.cas.get())->base();
  out.results = std::make_unique<MetricsBlobAccess>(
      std::make_unique<CompletenessCheckingBlobAccess>(std::move(results_base), cas_verified),
      "ac", registry);
  out.action_cache = std::make_unique<ActionCache>(out.results.get());
  return out;
}

std::vector<prometheus::MetricFamily> StoreGauges(const Storage& storage) {
  auto family = [](const char* name, const char* help, prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
  };
  auto bytes = family("kfarm_store_bytes", "Bytes held by a disk store",
                      prometheus::MetricType::Gauge);
  auto blobs = family("kfarm_store_blobs", "Blobs held by a disk store",
                      prometheus::MetricType::Gauge);
  auto evictions = family("kfarm_store_evictions_total",
                          "Blobs a disk store removed to stay within its size cap",
                          prometheus::MetricType::Counter);
  for (const auto& [name, disk] : storage.disks) {
    prometheus::ClientMetric m;
    m.label = {{"store", name}};
    m.gauge.value = static_cast<double>(disk->total_bytes());
    bytes.metric.push_back(m);
    m.gauge.value = static_cast<double>(disk->blob_count());
    blobs.metric.push_back(m);
    m.gauge.value = 0;
    m.counter.value = static_cast<double>(disk->evictions());
    evictions.metric.push_back(m);
  }
  return {bytes, blobs, evictions};
}

}  // namespace kfarm
