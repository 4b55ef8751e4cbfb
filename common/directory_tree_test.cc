#include "common/directory_tree.h"

#include "common/memory_blob_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class DirectoryTreeTest : public ::testing::Test {
 protected:
  // Stores `dir` and returns its digest.
  Digest Put(const reapi::Directory& dir) {
    const std::string bytes = dir.SerializeAsString();
    const Digest d = Digest::Of(bytes);
    EXPECT_TRUE(cas_.Put(d, bytes).ok());
    return d;
  }
  static void AddDir(reapi::Directory* parent, const std::string& name, const Digest& d) {
    auto* node = parent->add_directories();
    node->set_name(name);
    d.ToProto(node->mutable_digest());
  }
  // Walks `root` in cas_; returns "prefix" of each visited and "!prefix" of each absent.
  std::vector<std::string> Walk(const Digest& root, absl::Status* status = nullptr) {
    std::vector<std::string> seen;
    absl::Status s = WalkTree(
        root, FetchFrom(&cas_),
        [&](WalkedDirectory& w) {
          seen.push_back(w.prefix);
          return absl::OkStatus();
        },
        [&](const Digest&, const std::string& prefix) { seen.push_back("!" + prefix); });
    if (status != nullptr) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s;
    return seen;
  }

  MemoryBlobAccess cas_{1 << 20};
};

TEST_F(DirectoryTreeTest, EachDistinctDirectoryOnceBreadthFirstInDirectoryOrder) {
  reapi::Directory leaf;
  leaf.add_files()->set_name("x.o");
  const Digest shared = Put(leaf);
  reapi::Directory a, b, root;
  AddDir(&a, "inner", shared);
  const Digest da = Put(a);
  b.add_files()->set_name("y.o");
  AddDir(&b, "also", shared);
  const Digest db = Put(b);
  AddDir(&root, "a", da);
  AddDir(&root, "b", db);
  // Level by level: the shared leaf once, where it is first reached.
  EXPECT_THAT(Walk(Put(root)), ElementsAre("", "a/", "b/", "a/inner/"));
}

TEST_F(DirectoryTreeTest, AbsentDirectoriesAreReportedAndTheirSubtreesSkipped) {
  reapi::Directory gone_leaf;
  gone_leaf.add_files()->set_name("never");
  reapi::Directory root;
  AddDir(&root, "gone", Digest::Of(gone_leaf.SerializeAsString()));
  EXPECT_THAT(Walk(Put(root)), ElementsAre("", "!gone/"));
  EXPECT_THAT(Walk(Digest::Of("no such root")), ElementsAre("!"));
}

TEST_F(DirectoryTreeTest, ABlobThatIsNotADirectoryIsNamedWithWhereItWasReached) {
  const Digest junk = Digest::Of(std::string("\xff\xff\xff", 3));
  ASSERT_TRUE(cas_.Put(junk, std::string("\xff\xff\xff", 3)).ok());
  reapi::Directory root;
  AddDir(&root, "sub", junk);
  absl::Status s;
  Walk(Put(root), &s);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(junk.ToString()));
  EXPECT_THAT(s.message(), HasSubstr("\"sub\""));
  EXPECT_THAT(s.message(), HasSubstr("does not parse as a build.bazel.remote.execution.v2.Directory"));

  reapi::Directory bad;
  auto* node = bad.add_directories();
  node->set_name("broken");
  node->mutable_digest()->set_hash("xyz");
  Walk(Put(bad), &s);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("directory \"broken\""));
}

TEST_F(DirectoryTreeTest, ExpansionVisitsEveryPathAndMarksWhatIsMissing) {
  reapi::Directory leaf;
  leaf.add_files()->set_name("x.o");
  const std::string leaf_bytes = leaf.SerializeAsString();
  reapi::Directory root;
  AddDir(&root, "one", Digest::Of(leaf_bytes));
  AddDir(&root, "two", Digest::Of(leaf_bytes));
  AddDir(&root, "three", Digest::Of("absent"));
  const std::string root_bytes = root.SerializeAsString();
  auto dirs = ParseDirectories(std::vector<std::string>{root_bytes, leaf_bytes});
  ASSERT_TRUE(dirs.ok());
  std::vector<std::pair<std::string, bool>> visited;
  ASSERT_TRUE(ExpandTree(Digest::Of(root_bytes), *dirs, "out",
                         [&](const std::string& path, const Digest&, const reapi::Directory* d) {
                           visited.emplace_back(path, d != nullptr);
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_THAT(visited, ElementsAre(Pair("out", true), Pair("out/one", true),
                                   Pair("out/two", true), Pair("out/three", false)));
  EXPECT_EQ(ParseDirectories(std::vector<std::string>{std::string("\xff", 1)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kfarm
