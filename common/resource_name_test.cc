#include "common/resource_name.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

const Digest& D() {
  static const Digest d = Digest::Of("payload");
  return d;
}

TEST(ResourceNameTest, ParsesReadNamesWithAndWithoutInstance) {
  auto r = ParseReadResourceName("blobs/" + D().ToString());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instance_name, "");
  EXPECT_EQ(r->digest, D());
  EXPECT_EQ(r->compressor, reapi::Compressor::IDENTITY);

  r = ParseReadResourceName("team/linux/main/blobs/" + D().ToString());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instance_name, "team/linux/main");
}

TEST(ResourceNameTest, ParsesCompressedNames) {
  auto r = ParseReadResourceName("x/compressed-blobs/zstd/" + D().ToString());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instance_name, "x");
  EXPECT_EQ(r->compressor, reapi::Compressor::ZSTD);

  auto w = ParseWriteResourceName("uploads/u-1/compressed-blobs/zstd/" + D().ToString());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->upload_id, "u-1");
  EXPECT_EQ(w->compressor, reapi::Compressor::ZSTD);
}

TEST(ResourceNameTest, WriteNamesAllowTrailingMetadata) {
  auto w = ParseWriteResourceName("a/b/uploads/7f3e/blobs/" + D().ToString() + "/some/meta");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->instance_name, "a/b");
  EXPECT_EQ(w->upload_id, "7f3e");
  EXPECT_EQ(w->digest, D());
}

TEST(ResourceNameTest, MakeAndParseAgree) {
  for (auto c : {reapi::Compressor::IDENTITY, reapi::Compressor::ZSTD}) {
    auto r = ParseReadResourceName(MakeReadResourceName("i/j", D(), c));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->instance_name, "i/j");
    EXPECT_EQ(r->compressor, c);
    auto w = ParseWriteResourceName(MakeWriteResourceName("", "uuid", D(), c));
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->upload_id, "uuid");
    EXPECT_EQ(w->digest, D());
  }
}

struct Bad {
  std::string name;
  std::string why;
};

TEST(ResourceNameTest, MalformedReadNamesNameThePart) {
  const std::string h = D().hex();
  std::vector<Bad> bad = {
      {"", "no \"blobs\""},
      {"inst/" + h + "/7", "no \"blobs\""},
      {"blobs/" + h, "missing {hash}/{size}"},
      {"blobs/" + h + "/seven", "size \"seven\""},
      {"blobs/" + h + "/ 7 ", "size \" 7 \" is not a decimal number"},
      {"blobs/" + h + "/+7", "size \"+7\""},
      {"blobs/" + h + "/-7", "size \"-7\""},
      {"blobs/" + h + "/99999999999999999999", "size \"99999999999999999999\""},
      {"blobs/XYZ/7", "\"XYZ\""},
      {"blobs/" + h + "/7/extra", "trailing \"extra\""},
      {"compressed-blobs/lz4/" + h + "/7", "unknown compressor \"lz4\""},
      {"compressed-blobs/identity/" + h + "/7", "identity"},
      {"uploads/u/blobs/" + h + "/7", "cannot be read"},
      {"a//blobs/" + h + "/7", "empty segment"},
  };
  for (const Bad& b : bad) {
    auto r = ParseReadResourceName(b.name);
    ASSERT_FALSE(r.ok()) << b.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(b.why)) << b.name;
    EXPECT_THAT(r.status().message(), HasSubstr(b.name)) << b.name;
  }
}

TEST(ResourceNameTest, MalformedWriteNames) {
  const std::string h = D().hex();
  EXPECT_THAT(ParseWriteResourceName("blobs/" + h + "/7").status().message(),
              HasSubstr("uploads/{uuid}"));
  EXPECT_THAT(ParseWriteResourceName("uploads").status().message(), HasSubstr("upload id"));
  EXPECT_THAT(ParseWriteResourceName("uploads/u/" + h + "/7").status().message(),
              HasSubstr("expected \"blobs\""));
}

TEST(ResourceNameTest, InstanceNamesRejectReservedSegments) {
  EXPECT_TRUE(ValidateInstanceName("").ok());
  EXPECT_TRUE(ValidateInstanceName("a/b-c/d").ok());
  EXPECT_THAT(ValidateInstanceName("a/blobs").message(), HasSubstr("reserved segment \"blobs\""));
  EXPECT_THAT(ValidateInstanceName("a//b").message(), HasSubstr("empty segment"));
}

}  // namespace
}  // namespace kfarm

namespace kfarm {
namespace {

// Errors travel in gRPC trailers: a 1 MiB name echoed whole would arrive as RESOURCE_EXHAUSTED.
TEST(ResourceNameTest, HugeNamesAreShownCutShort) {
  std::string huge = "inst/" + std::string(1 << 20, 'x') + "/blobs/abc/1";
  auto r = ParseReadResourceName(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(r.status().message().size(), 1000u) << r.status().message().substr(0, 300);
  EXPECT_NE(r.status().message().find(absl::StrCat(huge.size(), " bytes")), std::string::npos);
  absl::Status s = ValidateInstanceName(std::string(1 << 20, 'y') + "//x");
  EXPECT_LT(s.message().size(), 1000u);
}

}  // namespace
}  // namespace kfarm
