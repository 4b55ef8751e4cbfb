#include "common/merkle.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

void Write(const std::string& path, const std::string& content, bool exec = false) {
  std::ofstream(path) << content;
  chmod(path.c_str(), exec ? 0755 : 0644);
}

reapi::Directory DirOf(const MerkleTree& t, const Digest& d) {
  reapi::Directory dir;
  EXPECT_TRUE(dir.ParseFromString(t.directories.at(d)));
  return dir;
}

TEST(MerkleTest, CanonicalOrderExecBitsSymlinksAndEmptyDirs) {
  TempDir tmp;
  const std::string& root = tmp.path();
  std::filesystem::create_directories(root + "/sub/empty");
  // Byte order: "B" < "a" < "b" (uppercase first), unlike a locale-aware sort.
  Write(root + "/b", "bee");
  Write(root + "/a", "ay", true);
  Write(root + "/B", "big bee");
  Write(root + "/sub/x", "bee");
  symlink("../a", (root + "/sub/link").c_str());

  auto tree = BuildMerkleTree(root);
  ASSERT_TRUE(tree.ok()) << tree.status();
  reapi::Directory top = DirOf(*tree, tree->root);
  ASSERT_EQ(top.files_size(), 3);
  EXPECT_EQ(top.files(0).name(), "B");
  EXPECT_EQ(top.files(1).name(), "a");
  EXPECT_TRUE(top.files(1).is_executable());
  EXPECT_EQ(top.files(2).name(), "b");
  EXPECT_FALSE(top.files(2).is_executable());
  EXPECT_EQ(top.files(2).digest().hash(), Digest::Of("bee").hex());

  ASSERT_EQ(top.directories_size(), 1);
  auto sub_digest = Digest::FromProto(top.directories(0).digest());
  reapi::Directory sub = DirOf(*tree, *sub_digest);
  ASSERT_EQ(sub.symlinks_size(), 1);
  EXPECT_EQ(sub.symlinks(0).target(), "../a");
  ASSERT_EQ(sub.directories_size(), 1);
  EXPECT_EQ(sub.directories(0).name(), "empty");
  EXPECT_EQ(sub.directories(0).digest().hash(), Digest::Empty().hex());

  // "bee" appears twice but is one distinct file content.
  EXPECT_EQ(tree->files.size(), 3u);
  EXPECT_EQ(tree->directories.size(), 3u);
  for (const auto& [d, bytes] : tree->directories) {
    reapi::Directory dir;
    dir.ParseFromString(bytes);
    EXPECT_TRUE(ValidateDirectory(dir, d).ok());
  }
}

TEST(MerkleTest, SameContentSameDigestWherever) {
  TempDir a, b;
  for (const auto* t : {&a, &b}) {
    std::filesystem::create_directories(t->path() + "/d");
    Write(t->path() + "/d/f", "same");
  }
  EXPECT_EQ(BuildMerkleTree(a.path())->root, BuildMerkleTree(b.path())->root);
  Write(b.path() + "/d/f", "same", true);
  EXPECT_NE(BuildMerkleTree(a.path())->root, BuildMerkleTree(b.path())->root);
}

TEST(MerkleTest, RejectsSpecialFilesNamingThePath) {
  TempDir tmp;
  std::string fifo = tmp.path() + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  auto tree = BuildMerkleTree(tmp.path());
  ASSERT_FALSE(tree.ok());
  EXPECT_THAT(tree.status().message(), HasSubstr(fifo));
}

TEST(MerkleTest, ValidateCatchesNonCanonicalDirectories) {
  Digest d = Digest::Of("x");
  reapi::Directory dir;
  dir.add_files()->set_name("b");
  dir.add_files()->set_name("a");
  EXPECT_THAT(ValidateDirectory(dir, d).message(), HasSubstr("out of order"));
  dir.Clear();
  dir.add_files()->set_name("a/b");
  EXPECT_THAT(ValidateDirectory(dir, d).message(), HasSubstr("single path segment"));
  dir.Clear();
  dir.add_files()->set_name("a");
  dir.add_directories()->set_name("a");
  EXPECT_THAT(ValidateDirectory(dir, d).message(), HasSubstr("used twice"));
}

}  // namespace
}  // namespace kfarm
