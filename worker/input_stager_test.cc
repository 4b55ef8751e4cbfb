// Staging an input root from the Directory blobs the scheduler sends along, with the file cache
// on a fake remote: what lands where, and what happens when the cache evicts an input before
// it is linked.
#include "worker/input_stager.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/testing/fake_cas.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

class InputStagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileCache> OpenCache(int64_t max_bytes = int64_t{1} << 30) {
    auto cache = FileCache::Open({dir_.path() + "/cache", max_bytes}, &cas_);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return std::move(*cache);
  }
  // A Directory's bytes, kept for the assignment; returns its digest.
  Digest Keep(const reapi::Directory& d) {
    blobs_.Add(d.SerializeAsString());
    return Digest::Of(d.SerializeAsString());
  }
  void AddFile(reapi::Directory* d, const std::string& name, const std::string& content,
               bool executable = false) {
    auto* f = d->add_files();
    f->set_name(name);
    cas_.Add(content).ToProto(f->mutable_digest());
    f->set_is_executable(executable);
  }
  static void AddDir(reapi::Directory* d, const std::string& name, const Digest& digest) {
    auto* n = d->add_directories();
    n->set_name(name);
    digest.ToProto(n->mutable_digest());
  }
  std::string Root() {
    const std::string root = dir_.path() + "/root-" + std::to_string(roots_++);
    std::filesystem::create_directories(root);
    return root;
  }
  static ino_t Inode(const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_ino;
  }

  TempDir dir_;
  FakeCas cas_;
  google::protobuf::RepeatedPtrField<std::string> blobs_;
  int roots_ = 0;
};

TEST_F(InputStagerTest, EveryPathOfTheTreeIsLaidOutFromTheCache) {
  reapi::Directory lib;
  AddFile(&lib, "common.h", "#define X 1\n");
  const Digest lib_digest = Keep(lib);
  reapi::Directory root;
  AddFile(&root, "build.sh", "#!/bin/sh\n", /*executable=*/true);
  AddFile(&root, "empty", "");
  auto* link = root.add_symlinks();
  link->set_name("latest");
  link->set_target("a/common.h");
  AddDir(&root, "a", lib_digest);
  AddDir(&root, "b", lib_digest);  // One Directory at two paths.
  const Digest root_digest = Keep(root);
  auto cache = OpenCache();
  InputStager stager(nullptr, cache.get(), /*link=*/true);
  const std::string out = Root();
  ASSERT_TRUE(stager.Stage(root_digest, out, blobs_).ok());

  EXPECT_EQ(ReadFile(out + "/a/common.h").value_or(""), "#define X 1\n");
  EXPECT_EQ(ReadFile(out + "/b/common.h").value_or(""), "#define X 1\n");
  // Hardlinks to the one cached copy: nothing copied.
  EXPECT_EQ(Inode(out + "/a/common.h"), Inode(cache->Path(Digest::Of("#define X 1\n"), false)));
  EXPECT_EQ(Inode(out + "/b/common.h"), Inode(out + "/a/common.h"));
  EXPECT_EQ(access((out + "/build.sh").c_str(), X_OK), 0);
  EXPECT_EQ(ReadFile(out + "/empty").value_or("x"), "");  // Made here: never fetched.
  EXPECT_EQ(std::filesystem::read_symlink(out + "/latest"), "a/common.h");
  EXPECT_EQ(cas_.fetches(Digest::Of("#define X 1\n")), 1);
}

TEST_F(InputStagerTest, PrivateCopiesWhenLinksCannotBeProtected) {
  reapi::Directory root;
  AddFile(&root, "module.o", "elf");
  const Digest root_digest = Keep(root);
  auto cache = OpenCache();
  InputStager stager(nullptr, cache.get(), /*link=*/false);
  const std::string out = Root();
  ASSERT_TRUE(stager.Stage(root_digest, out, blobs_).ok());
  EXPECT_NE(Inode(out + "/module.o"), Inode(cache->Path(Digest::Of("elf"), false)));
  EXPECT_EQ(access((out + "/module.o").c_str(), W_OK), 0);  // The action's own copy.
}

TEST_F(InputStagerTest, AnInputEvictedBeforeItIsLinkedIsFetchedAgain) {
  reapi::Directory root;
  std::vector<std::string> contents;
  for (char c : {'a', 'b', 'c'}) {
    contents.emplace_back(300 << 10, c);
    AddFile(&root, std::string(1, c) + ".o", contents.back());
  }
  const Digest root_digest = Keep(root);
  auto cache = OpenCache(int64_t{800} << 10);  // Two of the three fit: fetching c evicts a.
  InputStager stager(nullptr, cache.get(), true);
  const std::string out = Root();
  ASSERT_TRUE(stager.Stage(root_digest, out, blobs_).ok());
  for (size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(ReadFile(out + "/" + std::string(1, 'a' + i) + ".o").value_or(""), contents[i]);
  }
  EXPECT_EQ(cas_.fetches(Digest::Of(contents[0])), 2);
}

TEST_F(InputStagerTest, ADirectoryNotSentAlongIsNamedWithItsPath) {
  reapi::Directory sub;
  AddFile(&sub, "x.o", "x");
  reapi::Directory root;
  AddDir(&root, "drivers", Digest::Of(sub.SerializeAsString()));  // Its blob is not sent.
  const Digest root_digest = Keep(root);
  auto cache = OpenCache();
  InputStager stager(nullptr, cache.get(), true);
  const std::string out = Root();
  absl::Status s = stager.Stage(root_digest, out, blobs_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(out + "/drivers"));
  EXPECT_THAT(s.message(), HasSubstr(Digest::Of(sub.SerializeAsString()).ToString()));
}

}  // namespace
}  // namespace kfarm
