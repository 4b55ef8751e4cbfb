#include "common/resource_name.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace kfarm {
namespace {

bool IsReserved(absl::string_view s) {
  return s == "blobs" || s == "uploads" || s == "actions" || s == "actionResults" ||
         s == "operations" || s == "capabilities" || s == "compressed-blobs";
}

absl::Status Malformed(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("resource name ", Quoted(name), ": ", why));
}

absl::StatusOr<reapi::Compressor::Value> ParseCompressor(absl::string_view name,
                                                         absl::string_view s) {
  if (s == "zstd") return reapi::Compressor::ZSTD;
  if (s == "deflate") return reapi::Compressor::DEFLATE;
  if (s == "brotli") return reapi::Compressor::BROTLI;
  if (s == "identity") return reapi::Compressor::IDENTITY;
  return Malformed(name, absl::StrCat("unknown compressor ", Quoted(s)));
}

// Parses "blobs/{hash}/{size}" or "compressed-blobs/{c}/{hash}/{size}" starting at segs[i];
// returns the index just past the size.
absl::StatusOr<size_t> ParseBlobPart(absl::string_view name, const std::vector<absl::string_view>& segs,
                                     size_t i, ResourceName* out) {
  if (i >= segs.size()) return Malformed(name, "missing \"blobs\" or \"compressed-blobs\"");
  if (segs[i] == "compressed-blobs") {
    if (++i >= segs.size()) return Malformed(name, "missing compressor after \"compressed-blobs\"");
    ASSIGN_OR_RETURN(out->compressor, ParseCompressor(name, segs[i]));
    if (out->compressor == reapi::Compressor::IDENTITY) {
      return Malformed(name, "\"identity\" is not a compressor for compressed-blobs; use blobs/");
    }
  } else if (segs[i] != "blobs") {
    return Malformed(name, absl::StrCat("expected \"blobs\" or \"compressed-blobs\", found ",
                                        Quoted(segs[i])));
  }
  if (i + 2 >= segs.size()) return Malformed(name, "missing {hash}/{size} after \"blobs\"");
  int64_t size = 0;
  if (!Digest::ParseSize(segs[i + 2], &size)) {
    return Malformed(name, absl::StrCat("size ", Quoted(segs[i + 2]), " is not a decimal number"));
  }
  auto digest = Digest::FromHexAndSize(segs[i + 1], size);
  if (!digest.ok()) return Malformed(name, digest.status().message());
  out->digest = *digest;
  return i + 3;
}

// Finds the first reserved segment; everything before it is the instance name.
absl::StatusOr<size_t> SplitInstance(absl::string_view name,
                                     const std::vector<absl::string_view>& segs,
                                     ResourceName* out) {
  size_t i = 0;
  while (i < segs.size() && !IsReserved(segs[i])) ++i;
  if (i == segs.size()) {
    return Malformed(name, "no \"blobs\", \"compressed-blobs\" or \"uploads\" segment");
  }
  std::vector<absl::string_view> instance(segs.begin(), segs.begin() + i);
  out->instance_name = absl::StrJoin(instance, "/");
  for (absl::string_view s : instance) {
    if (s.empty()) return Malformed(name, "instance name has an empty segment");
  }
  return i;
}

}  // namespace

absl::StatusOr<ResourceName> ParseReadResourceName(absl::string_view name) {
  std::vector<absl::string_view> segs = absl::StrSplit(name, '/');
  ResourceName out;
  ASSIGN_OR_RETURN(size_t i, SplitInstance(name, segs, &out));
  if (segs[i] == "uploads") return Malformed(name, "an upload name cannot be read");
  ASSIGN_OR_RETURN(size_t end, ParseBlobPart(name, segs, i, &out));
  if (end != segs.size()) {
    return Malformed(name, absl::StrCat("unexpected trailing ", Quoted(segs[end])));
  }
  return out;
}

absl::StatusOr<ResourceName> ParseWriteResourceName(absl::string_view name) {
  std::vector<absl::string_view> segs = absl::StrSplit(name, '/');
  ResourceName out;
  ASSIGN_OR_RETURN(size_t i, SplitInstance(name, segs, &out));
  if (segs[i] != "uploads") {
    return Malformed(name, absl::StrCat("write names need \"uploads/{uuid}/\", found ",
                                        Quoted(segs[i])));
  }
  if (i + 1 >= segs.size() || segs[i + 1].empty()) {
    return Malformed(name, "missing upload id after \"uploads\"");
  }
  out.upload_id = std::string(segs[i + 1]);
  // Anything after {size} is optional client metadata and is ignored, as REAPI allows.
  RETURN_IF_ERROR(ParseBlobPart(name, segs, i + 2, &out).status());
  return out;
}

std::string MakeReadResourceName(absl::string_view instance, const Digest& digest,
                                 reapi::Compressor::Value compressor) {
  std::string prefix = instance.empty() ? "" : absl::StrCat(instance, "/");
  if (compressor == reapi::Compressor::IDENTITY) {
    return absl::StrCat(prefix, "blobs/", digest.ToString());
  }
  return absl::StrCat(prefix, "compressed-blobs/", CompressorName(compressor), "/",
                      digest.ToString());
}

std::string MakeWriteResourceName(absl::string_view instance, absl::string_view upload_id,
                                  const Digest& digest, reapi::Compressor::Value compressor) {
  std::string prefix = instance.empty() ? "" : absl::StrCat(instance, "/");
  return absl::StrCat(prefix, "uploads/", upload_id, "/",
                      MakeReadResourceName("", digest, compressor));
}

absl::Status ValidateInstanceName(absl::string_view instance) {
  if (instance.empty()) return absl::OkStatus();
  for (absl::string_view s : absl::StrSplit(instance, '/')) {
    if (s.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance name ", Quoted(instance), " has an empty segment"));
    }
    if (IsReserved(s)) {
      return absl::InvalidArgumentError(absl::StrCat("instance name ", Quoted(instance),
                                                     " contains the reserved segment ", Quoted(s)));
    }
  }
  return absl::OkStatus();
}

const char* CompressorName(reapi::Compressor::Value compressor) {
  switch (compressor) {
    case reapi::Compressor::ZSTD:
      return "zstd";
    case reapi::Compressor::DEFLATE:
      return "deflate";
    case reapi::Compressor::BROTLI:
      return "brotli";
    default:
      return "identity";
  }
}

}  // namespace kfarm
