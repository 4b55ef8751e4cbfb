#include "scheduler/cached_operation.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(CachedOperationNameTest, CarriesTheInstanceAndTheDigestBack) {
  const Digest d = Digest::Of("action");
  for (const std::string& instance :
       std::vector<std::string>{"", "main", "a/b-c_d", "x.y", std::string("\0\xff", 2)}) {
    std::string name = CachedOperationName(instance, d);
    auto ref = ParseCachedOperationName(name);
    ASSERT_TRUE(ref.has_value()) << name;
    EXPECT_EQ(ref->instance, instance) << name;
    EXPECT_EQ(ref->action, d) << name;
  }
  EXPECT_EQ(CachedOperationName("", d), "operations/cached-" + d.hex() + "-6");
}

TEST(CachedOperationNameTest, RefusesWhatItNeverWrites) {
  const std::string hex = Digest::Of("action").hex();
  for (const std::string& name : std::vector<std::string>{
           std::string("operations/1234"),
           "operations/cached-" + hex,
           "operations/cached-" + hex + "-",
           "operations/cached-" + hex + "- 6",
           "operations/cached-" + hex + "-+6",
           "operations/cached-" + hex + "-6.",
           "operations/cached-" + hex + "-6.bWFpbg==",  // Padded: another spelling of "main".
           "operations/cached-" + hex + "-6.m@in",
           "operations/cached-" + hex.substr(1) + "G-6",
           "operations/cached-" + hex + "-99999999999999999999",
           "x/operations/cached-" + hex + "-6",
       }) {
    EXPECT_FALSE(ParseCachedOperationName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace kfarm
