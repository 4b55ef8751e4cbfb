#include "common/digest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

TEST(DigestTest, HashesKnownVectors) {
  EXPECT_EQ(Digest::Of("").ToString(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
  EXPECT_EQ(Digest::Of("abc").ToString(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3");
  EXPECT_TRUE(Digest::Of("").empty_blob());
  EXPECT_FALSE(Digest::Of("abc").empty_blob());
}

TEST(DigestTest, RoundTripsThroughProtoAndText) {
  Digest d = Digest::Of("hello");
  auto back = Digest::FromProto(d.ToProto());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, d);
  auto parsed = Digest::Parse(d.ToString());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, d);
}

TEST(DigestTest, SizesAreDecimalDigitsOnly) {
  int64_t size = -1;
  EXPECT_TRUE(Digest::ParseSize("0", &size));
  EXPECT_EQ(size, 0);
  EXPECT_TRUE(Digest::ParseSize("9223372036854775807", &size));
  EXPECT_EQ(size, INT64_MAX);
  for (const char* bad : {"", " 5", "5 ", " 5 ", "+5", "-5", "5x", "0x5", "9223372036854775808",
                          "99999999999999999999"}) {
    EXPECT_FALSE(Digest::ParseSize(bad, &size)) << '"' << bad << '"';
  }
  const std::string hex = Digest::Of("hello").hex();
  EXPECT_FALSE(Digest::Parse(hex + "/ 5 ").ok());
  EXPECT_TRUE(Digest::Parse(hex + "/5").ok());
}

TEST(DigestTest, RejectsMalformedHashesNamingThem) {
  reapi::Digest p;
  p.set_hash("ABC");
  p.set_size_bytes(1);
  auto s = Digest::FromProto(p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("\"ABC\""));

  std::string upper = Digest::Of("x").hex();
  upper[10] = 'F';
  p.set_hash(upper);
  s = Digest::FromProto(p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not lowercase hex"));

  p.set_hash(Digest::Of("x").hex());
  p.set_size_bytes(-5);
  s = Digest::FromProto(p).status();
  EXPECT_THAT(s.message(), HasSubstr("negative size"));

  EXPECT_FALSE(Digest::Parse("nosize").ok());
  EXPECT_FALSE(Digest::Parse(Digest::Of("x").hex() + "/abc").ok());
}

}  // namespace
}  // namespace kfarm
