#include "scheduler/tree_expansion.h"

#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

// Directories built bottom-up, kept alive by the deque, indexed by digest.
class Tree {
 public:
  // A directory with `files` files of `size` bytes and the given children (name, digest).
  Digest Add(int files, int64_t size, const std::vector<std::pair<std::string, Digest>>& subs) {
    reapi::Directory d;
    for (int i = 0; i < files; ++i) {
      auto* f = d.add_files();
      f->set_name(absl::StrCat("f", i));
      Digest::Of(absl::StrCat(store_.size(), "/", i)).ToProto(f->mutable_digest());
      f->mutable_digest()->set_size_bytes(size);
    }
    for (const auto& [name, digest] : subs) {
      auto* s = d.add_directories();
      s->set_name(name);
      digest.ToProto(s->mutable_digest());
    }
    store_.push_back(d);
    Digest digest = Digest::Of(d.SerializeAsString());
    index_[digest] = &store_.back();
    return digest;
  }
  const absl::flat_hash_map<Digest, const reapi::Directory*>& index() const { return index_; }

 private:
  std::deque<reapi::Directory> store_;
  absl::flat_hash_map<Digest, const reapi::Directory*> index_;
};

TEST(TreeExpansionTest, AnOrdinaryTreeIsWithinTheLimits) {
  Tree t;
  Digest leaf = t.Add(3, 100, {});
  Digest root = t.Add(2, 100, {{"a", leaf}, {"b", leaf}});  // Shared once: 2 + 2 + 3 + 3 entries.
  EXPECT_TRUE(CheckTreeExpansion(t.index(), root, {10, 800, 1}).ok());
  EXPECT_THAT(CheckTreeExpansion(t.index(), root, {9, 800, 1}).message(),
              HasSubstr("more than max_input_tree_entries 9"));
  EXPECT_THAT(CheckTreeExpansion(t.index(), root, {10, 799, 1}).message(),
              HasSubstr("more than max_input_tree_bytes 799"));
  EXPECT_THAT(CheckTreeExpansion(t.index(), root, {10, 800, 0}).message(),
              HasSubstr("deeper than max_input_tree_depth 0"));
}

TEST(TreeExpansionTest, SharedSubtreesDoublingPerLevelAreRefusedQuickly) {
  // 60 distinct Directory blobs, each naming the one below it twice: 2^60 directories staged.
  Tree t;
  Digest d = t.Add(1, 1, {});
  for (int level = 0; level < 60; ++level) d = t.Add(0, 0, {{"l", d}, {"r", d}});
  absl::Status s = CheckTreeExpansion(t.index(), d, {4000000, uint64_t{256} << 30, 512});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("more than max_input_tree_entries 4000000"));
  EXPECT_THAT(s.message(), HasSubstr("shared directories count once per place"));
}

TEST(TreeExpansionTest, DepthNamesThePathWhereItWasPassed) {
  Tree t;
  Digest d = t.Add(0, 0, {});
  for (int level = 0; level < 5; ++level) d = t.Add(0, 0, {{absl::StrCat("d", level), d}});
  absl::Status s = CheckTreeExpansion(t.index(), d, {100, 100, 3});
  EXPECT_THAT(s.message(), HasSubstr("deeper than max_input_tree_depth 3"));
}

}  // namespace
}  // namespace kfarm
