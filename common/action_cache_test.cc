#include "common/action_cache.h"

#include "common/completeness_checking_blob_access.h"
#include "common/memory_blob_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

class ActionCacheTest : public ::testing::Test {
 protected:
  MemoryBlobAccess cas_{1 << 20};
  CompletenessCheckingBlobAccess results_{std::make_unique<MemoryBlobAccess>(1 << 20), &cas_};
  ActionCache cache_{&results_};
  Digest action_ = Digest::Of("action");
};

TEST_F(ActionCacheTest, MissThenHitPerInstance) {
  EXPECT_EQ(cache_.Get("", action_).status().code(), absl::StatusCode::kNotFound);
  reapi::ActionResult r;
  r.set_exit_code(3);
  ASSERT_TRUE(cache_.Put("a", action_, r).ok());
  auto got = cache_.Get("a", action_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->exit_code(), 3);
  EXPECT_EQ(cache_.Get("b", action_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ActionCacheTest, IncompleteResultsAreMisses) {
  Digest out = Digest::Of("output"), inner = Digest::Of("inner file");
  reapi::Tree tree;
  auto* f = tree.mutable_root()->add_files();
  f->set_name("f");
  inner.ToProto(f->mutable_digest());
  std::string tree_bytes = tree.SerializeAsString();
  Digest tree_digest = Digest::Of(tree_bytes);

  reapi::ActionResult r;
  auto* of = r.add_output_files();
  of->set_path("out");
  out.ToProto(of->mutable_digest());
  auto* od = r.add_output_directories();
  od->set_path("dir");
  tree_digest.ToProto(od->mutable_tree_digest());
  ASSERT_TRUE(cache_.Put("", action_, r).ok());

  auto got = cache_.Get("", action_);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("incomplete"));

  ASSERT_TRUE(cas_.Put(out, "output").ok());
  ASSERT_TRUE(cas_.Put(tree_digest, tree_bytes).ok());
  got = cache_.Get("", action_);
  EXPECT_THAT(got.status().message(), HasSubstr(inner.ToString()));

  ASSERT_TRUE(cas_.Put(inner, "inner file").ok());
  EXPECT_TRUE(cache_.Get("", action_).ok());
}

TEST_F(ActionCacheTest, RejectsMalformedDigestsNamingTheField) {
  reapi::ActionResult r;
  auto* of = r.add_output_files();
  of->set_path("bin/tool");
  of->mutable_digest()->set_hash("xyz");
  absl::Status s = cache_.Put("", action_, r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("bin/tool"));
}

}  // namespace
}  // namespace kfarm
