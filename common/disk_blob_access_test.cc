#include "common/disk_blob_access.h"

#include <fstream>

#include "common/memory_blob_access.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::unique_ptr<DiskBlobAccess> OpenStore(const std::string& root, int64_t max_bytes = 1 << 30) {
  auto s = DiskBlobAccess::Open({root, max_bytes, true});
  EXPECT_TRUE(s.ok()) << s.status();
  (*s)->WaitForReconcile();
  return std::move(*s);
}

std::vector<Digest> Missing(BlobAccess& store, std::vector<Digest> ds) {
  auto m = store.FindMissing(ds);
  EXPECT_TRUE(m.ok());
  return *m;
}

TEST(DiskBlobAccessTest, StoresVerifiedBlobsAndReadsThemBack) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Digest d = Digest::Of("hello world");
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
  ASSERT_TRUE(store->Put(d, "hello world").ok());
  EXPECT_THAT(Missing(*store, {d}), IsEmpty());
  auto got = store->Get(d);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello world");
}

TEST(DiskBlobAccessTest, EmptyBlobIsAlwaysPresent) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  EXPECT_THAT(Missing(*store, {Digest::Empty()}), IsEmpty());
  auto got = store->Get(Digest::Empty());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
}

TEST(DiskBlobAccessTest, RejectsWrongContentAndWrongSizeAndStoresNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Digest d = Digest::Of("right");
  absl::Status s = store->Put(d, "wrong");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(d.ToString()));
  EXPECT_THAT(s.message(), HasSubstr(Digest::Of("wrong").ToString()));

  Digest wrong_size(d.hash(), 99);
  s = store->Put(wrong_size, "right");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("received 5 bytes, digest says 99"));
  EXPECT_THAT(Missing(*store, {d, wrong_size}), ElementsAre(d, wrong_size));
  EXPECT_EQ(store->blob_count(), 0u);
}

TEST(DiskBlobAccessTest, EvictsLeastRecentlyUsedFirst) {
  TempDir dir;
  auto store = OpenStore(dir.path(), 30);
  Digest a = Digest::Of("aaaaaaaaaa"), b = Digest::Of("bbbbbbbbbb"), c = Digest::Of("cccccccccc");
  ASSERT_TRUE(store->Put(a, "aaaaaaaaaa").ok());
  ASSERT_TRUE(store->Put(b, "bbbbbbbbbb").ok());
  ASSERT_TRUE(store->Put(c, "cccccccccc").ok());
  ASSERT_TRUE(store->Get(a).ok());  // a is now newer than b.
  Digest d = Digest::Of("dddddddddd");
  ASSERT_TRUE(store->Put(d, "dddddddddd").ok());
  EXPECT_THAT(Missing(*store, {a, b, c, d}), ElementsAre(b));
  EXPECT_EQ(store->total_bytes(), 30);
}

TEST(DiskBlobAccessTest, RestartKeepsBlobsAndRecency) {
  TempDir dir;
  Digest a = Digest::Of("aaaaaaaaaa"), b = Digest::Of("bbbbbbbbbb");
  {
    auto store = OpenStore(dir.path(), 20);
    ASSERT_TRUE(store->Put(a, "aaaaaaaaaa").ok());
    ASSERT_TRUE(store->Put(b, "bbbbbbbbbb").ok());
    ASSERT_TRUE(store->Get(a).ok());
  }
  auto store = OpenStore(dir.path(), 20);
  EXPECT_EQ(store->blob_count(), 2u);
  ASSERT_TRUE(store->Put(Digest::Of("cccccccccc"), "cccccccccc").ok());
  EXPECT_THAT(Missing(*store, {a, b}), ElementsAre(b));  // b was least recent before restart.
}

TEST(DiskBlobAccessTest, SecondProcessIsRefused) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto again = DiskBlobAccess::Open({dir.path(), 1 << 20, true});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("in use by another process"));
}

TEST(DiskBlobAccessTest, CrashBetweenWriteAndRenameLeavesNothingVisible) {
  TempDir dir;
  Digest d = Digest::Of("complete content");
  {
    auto store = OpenStore(dir.path());
    auto writer = store->OpenWrite(d);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("complete").ok());
    // Simulate the process dying here: the temp file stays, nothing was renamed.
    std::filesystem::create_directories(dir.path() + "/tmp/999-1");
    std::ofstream(dir.path() + "/tmp/999-1/0") << "complete";
    writer->release();
  }
  auto store = OpenStore(dir.path());
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tmp/999-1"));
}

TEST(DiskBlobAccessTest, CorruptFileIsRemovedAndReportedNotFound) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  std::string content(100000, 'x');
  Digest d = Digest::Of(content);
  ASSERT_TRUE(store->Put(d, content).ok());
  std::string path = store->BlobPath(d);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(50000);
    f.put('y');
  }
  auto got = store->Get(d);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("corrupt"));
  EXPECT_THAT(got.status().message(), HasSubstr(d.ToString()));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
}

TEST(DiskBlobAccessTest, TruncatedFileIsCaughtBeforeReading) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Digest d = Digest::Of("0123456789");
  ASSERT_TRUE(store->Put(d, "0123456789").ok());
  std::filesystem::resize_file(store->BlobPath(d), 4);
  auto got = store->Get(d);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
}

TEST(DiskBlobAccessTest, AdoptsUnjournaledFilesAndDropsVanishedOnes) {
  TempDir dir;
  Digest kept = Digest::Of("kept"), gone = Digest::Of("gone"), orphan = Digest::Of("orphan");
  std::string orphan_path;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Put(kept, "kept").ok());
    ASSERT_TRUE(store->Put(gone, "gone").ok());
    std::filesystem::remove(store->BlobPath(gone));
    orphan_path = store->BlobPath(orphan);
  }
  std::ofstream(orphan_path) << "orphan";  // As if the journal write was lost in a crash.
  auto store = OpenStore(dir.path());
  EXPECT_THAT(Missing(*store, {kept, gone, orphan}), ElementsAre(gone));
  EXPECT_EQ(*store->Get(orphan), "orphan");
}

TEST(DiskBlobAccessTest, UncommittedWriterLeavesNoTrace) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Digest d = Digest::Of("abc");
  {
    auto w = store->OpenWrite(d);
    ASSERT_TRUE((*w)->Write("ab").ok());
  }
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
}

TEST(MemoryBlobAccessTest, VerifiesAndEvicts) {
  MemoryBlobAccess store(10);
  Digest a = Digest::Of("aaaaaaaaaa"), b = Digest::Of("bbbbbbbbbb");
  EXPECT_FALSE(store.Put(a, "nope").ok());
  ASSERT_TRUE(store.Put(a, "aaaaaaaaaa").ok());
  ASSERT_TRUE(store.Put(b, "bbbbbbbbbb").ok());
  EXPECT_THAT(Missing(store, {a, b}), ElementsAre(a));
  EXPECT_EQ(*store.Get(b), "bbbbbbbbbb");
}

}  // namespace
}  // namespace kfarm
