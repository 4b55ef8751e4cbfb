// Compressed uploads are decompressed as they stream in; hostile frames must fail cleanly, and
// whatever decompresses must be exactly what a one-shot zstd decompression gives.
#include <zstd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/zstd_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kfarm::ZstdDecompressor d;
  std::string out;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  // Fed in two pieces, as frames split across messages arrive.
  const size_t half = size / 2;
  auto sink = [&](absl::string_view piece) {
    out.append(piece.data(), piece.size());
    // Stop hostile expansion (zstd reaches ~32000:1) as the services do, by a bound.
    return out.size() > (1 << 24) ? absl::ResourceExhaustedError("too large") : absl::OkStatus();
  };
  absl::Status s = d.Decompress(in.substr(0, half), sink);
  if (s.ok()) s = d.Decompress(in.substr(half), sink);
  if (s.ok() && d.at_frame_end()) {
    const unsigned long long expected = ZSTD_getFrameContentSize(data, size);
    if (expected != ZSTD_CONTENTSIZE_UNKNOWN && expected != ZSTD_CONTENTSIZE_ERROR &&
        expected <= (1 << 24) && ZSTD_findFrameCompressedSize(data, size) == size &&
        expected != out.size()) {
      std::abort();
    }
  }
  return 0;
}
