// Conversions at the service edge: absl::Status inside, grpc::Status and google.rpc.Status out.
#ifndef KFARM_COMMON_GRPC_STATUS_H_
#define KFARM_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"

namespace kfarm {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

inline google::rpc::Status ToRpcStatus(const absl::Status& s) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(s.code()));
  out.set_message(std::string(s.message()));
  return out;
}

}  // namespace kfarm

#endif  // KFARM_COMMON_GRPC_STATUS_H_
