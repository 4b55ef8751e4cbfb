#include "common/disk_blob_access.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/memory_blob_access.h"
#include "common/testing/temp_dir.h"
#include "common/verifying_blob_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::unique_ptr<DiskBlobAccess> OpenStore(const std::string& root, int64_t max_bytes = 1 << 30) {
  auto s = DiskBlobAccess::Open({root, max_bytes});
  EXPECT_TRUE(s.ok()) << s.status();
  (*s)->WaitForReconcile();
  return std::move(*s);
}

// A file an earlier process left in the store, its shard directory made as the store makes it.
void Plant(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << content;
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

// Shard directories come with their first blob, not at start-up (256 mkdirs per worker).
TEST(DiskBlobAccessTest, ShardDirectoriesAreMadeByTheFirstBlobInThem) {
  TempDir dir;
  auto count = [&] {
    auto it = std::filesystem::directory_iterator(dir.path() + "/blobs");
    return std::distance(it, std::filesystem::directory_iterator());
  };
  {
    auto store = OpenStore(dir.path());
    EXPECT_EQ(count(), 0);
    Digest a = Digest::Of("first"), b = Digest::Of("second");
    ASSERT_NE(a.hash()[0], b.hash()[0]);
    ASSERT_TRUE(store->Put(a, "first").ok());
    EXPECT_EQ(count(), 1);
    ASSERT_TRUE(store->Put(b, "second").ok());
    ASSERT_TRUE(store->Put(Digest::Of("first again"), "first again").ok());
    EXPECT_EQ(count(), Digest::Of("first again").hash()[0] == a.hash()[0] ? 2 : 3);
  }
  auto reopened = OpenStore(dir.path());
  auto got = reopened->Get(Digest::Of("second"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "second");
}

TEST(DiskBlobAccessTest, EmptyBlobIsAlwaysPresent) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  EXPECT_THAT(Missing(*store, {Digest::Empty()}), IsEmpty());
  auto got = store->Get(Digest::Empty());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
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

// An upload in flight (or abandoned, until it expires) takes disk space like a stored blob, so
// stored blobs make room for it, and its space comes back when it is dropped or committed.
TEST(DiskBlobAccessTest, UnfinishedWritesCountTowardTheCap) {
  TempDir dir;
  auto store = OpenStore(dir.path(), 30);
  Digest a = Digest::Of("aaaaaaaaaa"), b = Digest::Of("bbbbbbbbbb");
  ASSERT_TRUE(store->Put(a, "aaaaaaaaaa").ok());
  ASSERT_TRUE(store->Put(b, "bbbbbbbbbb").ok());
  const std::string big(15, 'x');
  {
    auto w = store->OpenWrite(Digest::Of(big));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(big.substr(0, 5)).ok());
    EXPECT_THAT(Missing(*store, {a, b}), IsEmpty());  // 25 of 30 bytes.
    ASSERT_TRUE((*w)->Write(big.substr(5)).ok());
    EXPECT_EQ(store->writing_bytes(), 15);
    EXPECT_THAT(Missing(*store, {a, b}), ElementsAre(a));  // Oldest out: 10 + 15 bytes.
  }
  EXPECT_EQ(store->writing_bytes(), 0);  // Dropped without commit: its space is free again.
  Digest c = Digest::Of(big);
  ASSERT_TRUE(store->Put(c, big).ok());
  EXPECT_EQ(store->writing_bytes(), 0);  // Committed: counted once, as stored.
  EXPECT_THAT(Missing(*store, {b, c}), IsEmpty());
  EXPECT_EQ(store->total_bytes(), 25);
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
  auto again = DiskBlobAccess::Open({dir.path(), 1 << 20});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("in use by another process"));
}

// Files under the store's tmp/ (partial uploads), recursively.
std::vector<std::string> TempFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/tmp")) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

// A real crash: a child process opens the store, writes part of a blob and dies without
// committing or cleaning up. The next process to open the store sees no blob and no leftover.
TEST(DiskBlobAccessTest, CrashBetweenWriteAndRenameLeavesNothingVisible) {
  TempDir dir;
  Digest d = Digest::Of("complete content");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = DiskBlobAccess::Open({dir.path(), 1 << 30});
    if (!store.ok()) _exit(1);
    auto writer = (*store)->OpenWrite(d);
    if (!writer.ok() || !(*writer)->Write("complete").ok()) _exit(1);
    _exit(0);  // No destructor runs: the partial file stays, as after a kill -9.
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(TempFiles(dir.path()).size(), 1u) << "the crash left no partial upload to clean up";

  auto store = OpenStore(dir.path());
  EXPECT_THAT(Missing(*store, {d}), ElementsAre(d));
  EXPECT_THAT(TempFiles(dir.path()), IsEmpty());
}

void FlipByte(const std::string& path, int64_t offset) {
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = static_cast<char>(f.get());
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 1));
}

// `reader` is the store itself or a layer above it.
void ExpectDroppedAsCorrupt(BlobAccess& reader, DiskBlobAccess& store, const Digest& d) {
  std::string path = store.BlobPath(d);
  auto got = reader.Get(d);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("corrupt"));
  EXPECT_THAT(got.status().message(), HasSubstr(d.ToString()));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THAT(Missing(store, {d}), ElementsAre(d));
}

// Both read paths: read(2) for small blobs, a mapping for large ones.
TEST(DiskBlobAccessTest, CorruptFileIsRemovedAndReportedNotFound) {
  for (size_t size : {size_t{100000}, size_t{3} << 20}) {
    TempDir dir;
    auto store = OpenStore(dir.path());
    std::string content(size, 'x');
    Digest d = Digest::Of(content);
    ASSERT_TRUE(store->Put(d, content).ok());
    EXPECT_EQ(*store->Get(d), content);
    FlipByte(store->BlobPath(d), static_cast<int64_t>(size / 2));
    ExpectDroppedAsCorrupt(*store, *store, d);
  }
}

// The checksum a read checks was recorded when the blob was committed, and survives a restart
// through the journal; the store vouches for such reads. A blob it never committed itself
// (adopted after a crash) is not vouched for: the verifying layer above checks it against its
// SHA-256 digest, and its verdict records the checksum (or removes the file).
TEST(DiskBlobAccessTest, ReadsCheckTheRecordedChecksumOrElseTheVerifierDecides) {
  TempDir dir;
  std::string content(2 << 20, 'k');
  content[12345] = 'q';
  Digest written = Digest::Of(content);
  Digest adopted_good = Digest::Of("adopted good"), adopted_bad = Digest::Of("adopted bad");
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Put(written, content).ok());
    Plant(store->BlobPath(adopted_good), "adopted good");
    Plant(store->BlobPath(adopted_bad), "adopted b@d");  // Same size, wrong bytes.
  }
  std::string journal;
  std::getline(std::ifstream(dir.path() + "/journal"), journal, '\0');
  EXPECT_THAT(journal, ::testing::ContainsRegex("\\+" + written.hex() + " [0-9]+ [0-9]+ [0-9a-f]{16}\n"));

  {
    std::unique_ptr<DiskBlobAccess> opened = OpenStore(dir.path());  // Adopts the two files.
    DiskBlobAccess& store = *opened;
    VerifyingBlobAccess cas(std::move(opened));
    EXPECT_THAT(Missing(store, {written, adopted_good, adopted_bad}), IsEmpty());
    EXPECT_TRUE((*store.OpenRead(written))->vouched());
    EXPECT_FALSE((*store.OpenRead(adopted_good))->vouched());
    EXPECT_EQ(*cas.Get(adopted_good), "adopted good");
    EXPECT_TRUE((*store.OpenRead(adopted_good))->vouched());
    ExpectDroppedAsCorrupt(cas, store, adopted_bad);
    FlipByte(store.BlobPath(written), 1 << 20);
    ExpectDroppedAsCorrupt(cas, store, written);
  }

  std::getline(std::ifstream(dir.path() + "/journal"), journal, '\0');
  EXPECT_THAT(journal,
              ::testing::ContainsRegex("\\+" + adopted_good.hex() + " [0-9]+ [0-9]+ [0-9a-f]{16}\n"));
}

TEST(DiskBlobAccessTest, JournalsWithoutChecksumsStillOpen) {
  TempDir dir;
  Digest d = Digest::Of("from an older journal");
  {
    auto store = OpenStore(dir.path());
    Plant(store->BlobPath(d), "from an older journal");
  }
  std::ofstream(dir.path() + "/journal") << "+" << d.hex() << " " << d.size() << " " << d.size()
                                         << "\n";
  auto s = DiskBlobAccess::Open({dir.path(), 1 << 30});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->blob_count(), 1u);  // From the journal, before any reconciliation.
  EXPECT_EQ(*(*s)->Get(d), "from an older journal");
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
  Plant(orphan_path, "orphan");  // As if the journal write was lost in a crash.
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

TEST(MemoryBlobAccessTest, EvictsAndVouchesForWhatItHolds) {
  MemoryBlobAccess store(10);
  Digest a = Digest::Of("aaaaaaaaaa"), b = Digest::Of("bbbbbbbbbb");
  ASSERT_TRUE(store.Put(a, "aaaaaaaaaa").ok());
  ASSERT_TRUE(store.Put(b, "bbbbbbbbbb").ok());
  EXPECT_THAT(Missing(store, {a, b}), ElementsAre(a));
  EXPECT_EQ(*store.Get(b), "bbbbbbbbbb");
  EXPECT_TRUE((*store.OpenRead(b))->vouched());
}

}  // namespace
}  // namespace kfarm
