#include "scheduler/capabilities_service.h"

#include "common/grpc_status.h"
#include "scheduler/request_checks.h"

namespace kfarm {

namespace reapi = build::bazel::remote::execution::v2;

CapabilitiesService::CapabilitiesService(const config::SchedulerConfig& config,
                                         bool exec_enabled, const Authorizer* auth)
    : auth_(auth) {
  auto* cache = caps_.mutable_cache_capabilities();
  cache->add_digest_functions(reapi::DigestFunction::SHA256);
  cache->mutable_action_cache_update_capabilities()->set_update_enabled(
      !config.disable_action_cache_updates());
  cache->set_max_batch_total_size_bytes(config.max_batch_total_size_bytes());
  cache->set_symlink_absolute_path_strategy(config.allow_absolute_symlinks()
                                                ? reapi::SymlinkAbsolutePathStrategy::ALLOWED
                                                : reapi::SymlinkAbsolutePathStrategy::DISALLOWED);
  cache->add_supported_compressors(reapi::Compressor::ZSTD);
  cache->add_supported_batch_update_compressors(reapi::Compressor::ZSTD);
  cache->set_max_cas_blob_size_bytes(config.storage().max_cas_blob_size_bytes());

  auto* exec = caps_.mutable_execution_capabilities();
  exec->set_digest_function(reapi::DigestFunction::SHA256);
  exec->add_digest_functions(reapi::DigestFunction::SHA256);
  exec->set_exec_enabled(exec_enabled);

  // 2.0 through 2.3: compressed blobs, Action.platform, output_paths and the per-request
  // digest_function fields are implemented; later additions (output_directory_format,
  // SHA256TREE) are not, so claiming more would be a lie clients act on.
  caps_.mutable_deprecated_api_version()->set_major(2);
  caps_.mutable_low_api_version()->set_major(2);
  caps_.mutable_high_api_version()->set_major(2);
  caps_.mutable_high_api_version()->set_minor(3);
}

grpc::Status CapabilitiesService::GetCapabilities(grpc::ServerContext* ctx,
                                                  const reapi::GetCapabilitiesRequest* req,
                                                  reapi::ServerCapabilities* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, req->instance_name()));
  absl::Status s = CheckInstance(req->instance_name());
  if (!s.ok()) return ToGrpcStatus(s);
  *resp = caps_;
  return grpc::Status::OK;
}

}  // namespace kfarm
