#include "scheduler/config_loader.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/text_config.h"

namespace kfarm {

namespace {

// gRPC takes message sizes as int, and the server adds 4 MiB of framing to a batch.
constexpr int64_t kMaxBatchBytes = int64_t{1} << 30;
// A year: longer waits are configuration mistakes, and anything below this stays far from
// overflowing when turned into nanoseconds or added to a clock.
constexpr int64_t kYearSeconds = int64_t{365} * 24 * 3600;
constexpr int64_t kYearMs = kYearSeconds * 1000;

absl::Status InRange(absl::string_view field, int64_t value, int64_t low, int64_t high,
                     absl::string_view unit) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("config: ", field, " = ", value,
                                                 " is out of range: expected ", low, " to ", high,
                                                 unit.empty() ? "" : " ", unit));
}

absl::Status CheckTls(absl::string_view field, const config::TlsConfig& tls) {
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: ", field, ".cert_file and ", field, ".key_file go together: one is set (",
        tls.cert_file().empty() ? tls.key_file() : tls.cert_file(), "), the other is empty"));
  }
  if (tls.cert_file().empty() && (!tls.client_ca_file().empty() || tls.require_client_cert())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: ", field, ".client_ca_file and require_client_cert need ", field,
        ".cert_file and key_file: client certificates are checked only over TLS"));
  }
  if (tls.require_client_cert() && tls.client_ca_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: ", field, ".require_client_cert needs ", field,
        ".client_ca_file, the CA that signs the certificates"));
  }
  return InRange(absl::StrCat(field, ".reload_interval_seconds"), tls.reload_interval_seconds(),
                 0, 86400, "seconds");
}

}  // namespace

absl::StatusOr<config::SchedulerConfig> ParseSchedulerConfig(absl::string_view text,
                                                             absl::string_view origin) {
  config::SchedulerConfig c;
  RETURN_IF_ERROR(ParseTextConfig(text, origin, &c));
  return c;
}

absl::Status CheckSchedulerConfig(const config::SchedulerConfig& c) {
  RETURN_IF_ERROR(InRange("max_batch_total_size_bytes", c.max_batch_total_size_bytes(), 1,
                          kMaxBatchBytes, "bytes"));
  RETURN_IF_ERROR(InRange("upload_idle_seconds", c.upload_idle_seconds(), 1, kYearSeconds, "seconds"));
  RETURN_IF_ERROR(InRange("max_idle_upload_bytes", c.max_idle_upload_bytes(), 1,
                          int64_t{1} << 50, "bytes"));
  RETURN_IF_ERROR(InRange("storage.max_cas_blob_size_bytes", c.storage().max_cas_blob_size_bytes(),
                          0, INT64_MAX, "bytes (0: unlimited)"));
  if (c.storage().backend() == config::StorageConfig::DISK && c.data_dir().empty()) {
    return absl::InvalidArgumentError("config: data_dir is empty; the disk store needs one");
  }
  RETURN_IF_ERROR(CheckTls("tls", c.tls()));
  RETURN_IF_ERROR(CheckTls("worker_listener.tls", c.worker_listener().tls()));
  if (!c.worker_listener().tls().cert_file().empty() &&
      c.worker_listener().listen_address().empty()) {
    return absl::InvalidArgumentError(
        "config: worker_listener.tls is set but worker_listener.listen_address is empty; workers "
        "then use the client listener and its tls");
  }

  const auto& e = c.execution();
  RETURN_IF_ERROR(InRange("execution.max_timeout_seconds", e.max_timeout_seconds(), 1, kYearSeconds,
                          "seconds"));
  RETURN_IF_ERROR(InRange("execution.default_timeout_seconds", e.default_timeout_seconds(), 1,
                          e.max_timeout_seconds(), "seconds (at most max_timeout_seconds)"));
  struct Ms {
    const char* field;
    int64_t value;
  };
  for (const Ms& ms : {Ms{"execution.heartbeat_interval_ms", e.heartbeat_interval_ms()},
                       Ms{"execution.keepalive_interval_ms", e.keepalive_interval_ms()},
                       Ms{"execution.lost_worker_grace_ms", e.lost_worker_grace_ms()},
                       Ms{"execution.abandoned_operation_ms", e.abandoned_operation_ms()},
                       Ms{"execution.no_worker_grace_ms", e.no_worker_grace_ms()},
                       Ms{"execution.completed_retention_ms", e.completed_retention_ms()},
                       Ms{"execution.staging_and_upload_allowance_ms",
                          e.staging_and_upload_allowance_ms()}}) {
    RETURN_IF_ERROR(InRange(ms.field, ms.value, 1, kYearMs, "ms"));
  }
  RETURN_IF_ERROR(InRange("execution.prefetch_below_ms", e.prefetch_below_ms(), INT64_MIN,
                          kYearMs, "ms (negative: off)"));
  RETURN_IF_ERROR(InRange("execution.max_worker_deaths", e.max_worker_deaths(), 1, 1000, ""));
  // Staging walks the tree recursively; a deeper limit than this would let a request exhaust
  // the stack before it is refused.
  RETURN_IF_ERROR(InRange("execution.max_input_tree_depth", e.max_input_tree_depth(), 1, 4096, ""));
  return absl::OkStatus();
}

}  // namespace kfarm
