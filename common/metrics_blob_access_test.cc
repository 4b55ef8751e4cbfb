#include "common/metrics_blob_access.h"

#include "common/memory_blob_access.h"
#include "common/testing/http_get.h"
#include "common/verifying_blob_access.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace kfarm {
namespace {

class MetricsBlobAccessTest : public ::testing::Test {
 protected:
  MetricsBlobAccessTest()
      : store_(std::make_unique<VerifyingBlobAccess>(std::make_unique<MemoryBlobAccess>(1 << 20)),
               "cas", registry_) {}
  double Metric(const std::string& key) {
    auto all = ParseMetrics(prometheus::TextSerializer().Serialize(registry_.Collect()));
    return all.count(key) ? all[key] : -1;
  }
  static std::string Ops(const std::string& op, const std::string& outcome) {
    return "kfarm_blob_access_operations_total{operation=\"" + op + "\",outcome=\"" + outcome +
           "\",store=\"cas\"}";
  }

  prometheus::Registry registry_;
  MetricsBlobAccess store_;
};

TEST_F(MetricsBlobAccessTest, CountsOperationsByOutcomeAndTheirBytes) {
  const Digest hello = Digest::Of("hello"), absent = Digest::Of("absent");
  ASSERT_TRUE(store_.Put(hello, "hello").ok());
  EXPECT_FALSE(store_.Put(absent, "not absent").ok());  // Refused by the verifying layer.
  EXPECT_EQ(*store_.Get(hello), "hello");
  EXPECT_FALSE(store_.Get(absent).ok());
  EXPECT_TRUE(store_.FindMissing({hello, absent, Digest::Of("x")}).ok());
  { auto abandoned = store_.OpenWrite(Digest::Of("later")); }

  EXPECT_EQ(Metric(Ops("write", "ok")), 1);
  EXPECT_EQ(Metric(Ops("write", "invalid")), 1);
  EXPECT_EQ(Metric(Ops("write", "abandoned")), 1);
  EXPECT_EQ(Metric(Ops("read", "ok")), 1);
  EXPECT_EQ(Metric(Ops("read", "not_found")), 1);
  EXPECT_EQ(Metric(Ops("find_missing", "ok")), 1);
  EXPECT_EQ(Metric("kfarm_blob_access_bytes_total{operation=\"read\",store=\"cas\"}"), 5);
  EXPECT_EQ(Metric("kfarm_blob_access_bytes_total{operation=\"write\",store=\"cas\"}"), 15);
  EXPECT_EQ(Metric("kfarm_blob_access_find_missing_digests_sum{store=\"cas\"}"), 3);
  EXPECT_EQ(Metric("kfarm_blob_access_duration_seconds_count{operation=\"read\",store=\"cas\"}"),
            2);
}

TEST_F(MetricsBlobAccessTest, PassesTheStoresWordAndVerdictsThrough) {
  const Digest d = Digest::Of("held in memory");
  ASSERT_TRUE(store_.Put(d, "held in memory").ok());
  auto reader = store_.OpenRead(d);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->vouched());  // The memory store's word, through both layers.
}

}  // namespace
}  // namespace kfarm
