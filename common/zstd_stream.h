// Streaming zstd for ByteStream's compressed-blobs: data flows through in pieces, so a
// vmlinux-sized blob is never held whole in memory.
#ifndef KFARM_COMMON_ZSTD_STREAM_H_
#define KFARM_COMMON_ZSTD_STREAM_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace kfarm {

using ByteSink = std::function<absl::Status(absl::string_view)>;

class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level = 1);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  // Appends compressed output for `in` to *out; with `last`, also ends the frame.
  absl::Status Compress(absl::string_view in, bool last, std::string* out);

  static std::string CompressAll(absl::string_view in, int level = 1);

 private:
  ZSTD_CCtx* ctx_;
};

class ZstdDecompressor {
 public:
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  // Feeds compressed bytes; decompressed pieces go to `sink` as they appear.
  absl::Status Decompress(absl::string_view in, const ByteSink& sink);
  // True when the input so far ends exactly at a frame boundary.
  bool at_frame_end() const { return at_frame_end_; }

 private:
  ZSTD_DCtx* ctx_;
  std::string buffer_;
  bool at_frame_end_ = true;
  // The current frame's first bytes (its header) and what it has produced: libzstd 1.5.4's
  // streaming decoder, fed a frame in pieces, can end one that holds fewer bytes than its header
  // declares (a one-shot decompression calls that corruption), so the count is checked here.
  std::string header_;
  uint64_t produced_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_ZSTD_STREAM_H_
