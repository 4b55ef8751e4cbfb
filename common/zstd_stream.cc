#include "common/zstd_stream.h"

#include <zstd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

constexpr size_t kMaxFrameHeader = 18;  // ZSTD_FRAMEHEADERSIZE_MAX, in zstd's unstable API.

}  // namespace

ZstdCompressor::ZstdCompressor(int level) : ctx_(ZSTD_createCCtx()) {
  if (ctx_ == nullptr) std::abort();
  ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
}

ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(ctx_); }

absl::Status ZstdCompressor::Compress(absl::string_view in, bool last, std::string* out) {
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    size_t old = out->size();
    size_t room = ZSTD_CStreamOutSize();
    out->resize(old + room);
    ZSTD_outBuffer output{&(*out)[old], room, 0};
    size_t remaining = ZSTD_compressStream2(ctx_, &output, &input, mode);
    out->resize(old + output.pos);
    if (ZSTD_isError(remaining)) {
      return absl::InternalError(absl::StrCat("zstd compression: ", ZSTD_getErrorName(remaining)));
    }
    bool done = last ? remaining == 0 : input.pos == input.size;
    if (done) return absl::OkStatus();
  }
}

std::string ZstdCompressor::CompressAll(absl::string_view in, int level) {
  ZstdCompressor c(level);
  std::string out;
  c.Compress(in, true, &out).IgnoreError();
  return out;
}

ZstdDecompressor::ZstdDecompressor() : ctx_(ZSTD_createDCtx()) {
  if (ctx_ == nullptr) std::abort();
  buffer_.resize(ZSTD_DStreamOutSize());
}

ZstdDecompressor::~ZstdDecompressor() { ZSTD_freeDCtx(ctx_); }

absl::Status ZstdDecompressor::Decompress(absl::string_view in, const ByteSink& sink) {
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  for (;;) {
    ZSTD_outBuffer output{buffer_.data(), buffer_.size(), 0};
    const size_t consumed_before = input.pos;
    size_t hint = ZSTD_decompressStream(ctx_, &output, &input);
    if (ZSTD_isError(hint)) {
      return absl::InvalidArgumentError(
          absl::StrCat("zstd data is malformed: ", ZSTD_getErrorName(hint)));
    }
    // A call consumes within one frame only: what it took belongs to the current frame.
    const size_t took = input.pos - consumed_before;
    if (header_.size() < kMaxFrameHeader && took > 0) {
      header_.append(in.data() + consumed_before, std::min(took, kMaxFrameHeader - header_.size()));
    }
    produced_ += output.pos;
    // A call that neither consumed nor produced anything only hints at a next frame.
    if (input.pos > consumed_before || output.pos > 0) {
      at_frame_end_ = hint == 0;
      if (at_frame_end_) {
        const unsigned long long declared = ZSTD_getFrameContentSize(header_.data(), header_.size());
        // A skippable frame declares 0 and produces nothing.
        if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR &&
            declared != produced_) {
          return absl::InvalidArgumentError(absl::StrCat(
              "zstd data is malformed: a frame declares ", declared, " bytes but holds ",
              produced_));
        }
        header_.clear();
        produced_ = 0;
      }
    }
    if (output.pos > 0) {
      absl::Status s = sink(absl::string_view(buffer_.data(), output.pos));
      if (!s.ok()) return s;
    }
    // A full output buffer may mean the decoder still holds data for input already consumed.
    if (input.pos == input.size && output.pos < output.size) return absl::OkStatus();
  }
}

}  // namespace kfarm
