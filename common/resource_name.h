// ByteStream resource names as REAPI defines them:
//   read:  [{instance}/]blobs/{hash}/{size}
//          [{instance}/]compressed-blobs/{compressor}/{hash}/{size}
//   write: [{instance}/]uploads/{uuid}/blobs/{hash}/{size}[/{metadata...}]
//          [{instance}/]uploads/{uuid}/compressed-blobs/{compressor}/{hash}/{size}[/{metadata...}]
// An instance name may span several segments, none of which is a reserved keyword; parsing starts
// at the first keyword segment.
#ifndef KFARM_COMMON_RESOURCE_NAME_H_
#define KFARM_COMMON_RESOURCE_NAME_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"

namespace kfarm {

struct ResourceName {
  std::string instance_name;
  std::string upload_id;  // Writes only.
  reapi::Compressor::Value compressor = reapi::Compressor::IDENTITY;
  Digest digest;
};

absl::StatusOr<ResourceName> ParseReadResourceName(absl::string_view name);
absl::StatusOr<ResourceName> ParseWriteResourceName(absl::string_view name);

std::string MakeReadResourceName(absl::string_view instance, const Digest& digest,
                                 reapi::Compressor::Value compressor = reapi::Compressor::IDENTITY);
std::string MakeWriteResourceName(absl::string_view instance, absl::string_view upload_id,
                                  const Digest& digest,
                                  reapi::Compressor::Value compressor = reapi::Compressor::IDENTITY);

// Instance names are checked the same way everywhere: no reserved segment, no empty segment.
absl::Status ValidateInstanceName(absl::string_view instance);

const char* CompressorName(reapi::Compressor::Value compressor);

}  // namespace kfarm

#endif  // KFARM_COMMON_RESOURCE_NAME_H_
