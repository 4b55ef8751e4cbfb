// ActionCache service: validates, converts, delegates to common/action_cache.
#ifndef KFARM_SCHEDULER_ACTION_CACHE_SERVICE_H_
#define KFARM_SCHEDULER_ACTION_CACHE_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/action_cache.h"
#include "scheduler/authorizer.h"

namespace kfarm {

class ActionCacheService final : public reapi::ActionCache::Service {
 public:
  // Clients write results only with the ac-write permission (and never with updates disabled):
  // otherwise the cache holds only what the farm's own workers produced.
  ActionCacheService(ActionCache* cache, BlobAccess* cas, bool updates_enabled,
                     bool allow_absolute_symlinks, const Authorizer* auth)
      : cache_(cache), cas_(cas), updates_enabled_(updates_enabled),
        allow_absolute_symlinks_(allow_absolute_symlinks), auth_(auth) {}

  grpc::Status GetActionResult(grpc::ServerContext* ctx, const reapi::GetActionResultRequest* req,
                               reapi::ActionResult* resp) override;
  grpc::Status UpdateActionResult(grpc::ServerContext* ctx,
                                  const reapi::UpdateActionResultRequest* req,
                                  reapi::ActionResult* resp) override;

 private:
  absl::Status Inline(const reapi::GetActionResultRequest& req, reapi::ActionResult* result);

  ActionCache* cache_;
  BlobAccess* cas_;
  bool updates_enabled_;
  bool allow_absolute_symlinks_;
  const Authorizer* auth_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_ACTION_CACHE_SERVICE_H_
