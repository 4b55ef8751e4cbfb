#include "common/zstd_stream.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

std::string Sample(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>("abcdefgh"[rng() % 8]);
  return s;
}

std::string DecompressInPieces(const std::string& compressed, size_t piece) {
  ZstdDecompressor z;
  std::string out;
  for (size_t i = 0; i < compressed.size(); i += piece) {
    EXPECT_TRUE(z.Decompress(compressed.substr(i, piece), [&](absl::string_view p) {
                   out.append(p.data(), p.size());
                   return absl::OkStatus();
                 }).ok());
  }
  EXPECT_TRUE(z.at_frame_end());
  return out;
}

TEST(ZstdStreamTest, RoundTripsAcrossPieceSizes) {
  std::string input = Sample(3 << 20);
  ZstdCompressor c;
  std::string compressed;
  for (size_t i = 0; i < input.size(); i += 100000) {
    ASSERT_TRUE(c.Compress(absl::string_view(input).substr(i, 100000),
                           i + 100000 >= input.size(), &compressed)
                    .ok());
  }
  EXPECT_LT(compressed.size(), input.size() / 2);
  EXPECT_EQ(DecompressInPieces(compressed, 1 << 20), input);
  EXPECT_EQ(DecompressInPieces(compressed, 7), input);
}

TEST(ZstdStreamTest, DetectsTruncationAndGarbage) {
  std::string compressed = ZstdCompressor::CompressAll(Sample(10000));
  ZstdDecompressor z;
  auto sink = [](absl::string_view) { return absl::OkStatus(); };
  ASSERT_TRUE(z.Decompress(compressed.substr(0, compressed.size() / 2), sink).ok());
  EXPECT_FALSE(z.at_frame_end());

  ZstdDecompressor bad;
  absl::Status s = bad.Decompress("definitely not zstd", sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("zstd"));
}

}  // namespace
}  // namespace kfarm

namespace kfarm {
namespace {

// A frame whose header declares 27392 bytes but whose blocks end at once: libzstd 1.5.4's
// streaming decoder, given it in two pieces, calls it complete; a one-shot decompression calls it
// corrupt, and so must this.
TEST(ZstdStreamTest, AFrameShortOfItsDeclaredSizeIsRefusedInAnyPieces) {
  const std::string frame("\x28\xb5\x2f\xfd\x40\x00\x00\x6a\x01\x00\x00", 11);
  for (size_t split : {size_t{5}, size_t{11}}) {
    ZstdDecompressor d;
    std::string out;
    auto sink = [&](absl::string_view p) {
      out.append(p.data(), p.size());
      return absl::OkStatus();
    };
    absl::Status s = d.Decompress(absl::string_view(frame).substr(0, split), sink);
    if (s.ok()) s = d.Decompress(absl::string_view(frame).substr(split), sink);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "split at " << split;
  }
}

}  // namespace
}  // namespace kfarm
