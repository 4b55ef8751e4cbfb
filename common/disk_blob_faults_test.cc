// The disk store on a disk that fails: each fault costs the one operation it hits, with an
// error naming the blob, and never a blob already stored.
#include <filesystem>

#include "common/disk_blob_access.h"
#include "common/testing/faulty_file_system.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

class DiskBlobFaultsTest : public ::testing::Test {
 protected:
  DiskBlobFaultsTest() {
    DiskBlobAccess::Options o;
    o.root = dir_.path();
    o.fs = &fs_;
    auto store = DiskBlobAccess::Open(o);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    store_->WaitForReconcile();
  }
  bool Has(const Digest& d) {
    auto missing = store_->FindMissing({d});
    return missing.ok() && missing->empty();
  }
  size_t TempFiles() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/tmp")) n += e.is_regular_file();
    return n;
  }

  TempDir dir_;
  FaultyFileSystem fs_;
  std::unique_ptr<DiskBlobAccess> store_;
};

TEST_F(DiskBlobFaultsTest, ADiskFillingUpMidUploadCostsThatUploadOnly) {
  const std::string kept(5000, 'k'), big(100000, 'b');
  const Digest dk = Digest::Of(kept), db = Digest::Of(big);
  ASSERT_TRUE(store_->Put(dk, kept).ok());
  fs_.FailWritesAfter(40000);
  absl::Status full = store_->Put(db, big);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("blob " + db.ToString()));
  EXPECT_THAT(full.message(), HasSubstr("No space left on device"));
  EXPECT_FALSE(Has(db));
  EXPECT_EQ(TempFiles(), 0u);
  EXPECT_EQ(store_->writing_bytes(), 0);  // Its reservation is given back.
  EXPECT_EQ(store_->Get(dk).value_or(""), kept);

  fs_.HealWrites();  // Space again: the same upload works.
  ASSERT_TRUE(store_->Put(db, big).ok());
  EXPECT_EQ(store_->Get(db).value_or(""), big);
}

TEST_F(DiskBlobFaultsTest, WritesTakingAFewBytesAtATimeStillStoreEveryByte) {
  fs_.ShortWrites(7);
  std::string content;
  for (int i = 0; i < 3000; ++i) content += static_cast<char>('a' + i % 26);
  const Digest d = Digest::Of(content);
  ASSERT_TRUE(store_->Put(d, content).ok());
  EXPECT_GT(fs_.writes(), 400);
  fs_.ShortWrites(0);
  EXPECT_EQ(store_->Get(d).value_or(""), content);
}

TEST_F(DiskBlobFaultsTest, AReadErrorIsReportedNotMistakenForCorruption) {
  const std::string content = "module.o bytes";
  const Digest d = Digest::Of(content);
  ASSERT_TRUE(store_->Put(d, content).ok());
  fs_.FailReads(EIO);
  auto got = store_->Get(d);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal);  // Not NOT_FOUND: it is there.
  EXPECT_THAT(got.status().message(), HasSubstr("blob " + d.ToString()));
  EXPECT_THAT(got.status().message(), HasSubstr("Input/output error"));
  fs_.FailReads(0);
  EXPECT_TRUE(Has(d));
  EXPECT_EQ(store_->Get(d).value_or(""), content);  // Kept: a disk error is not bad content.
}

TEST_F(DiskBlobFaultsTest, ARenameThatFailsLeavesNothingHalfStored) {
  const std::string content = "vmlinux base";
  const Digest d = Digest::Of(content);
  fs_.FailRenames(EIO);
  absl::Status s = store_->Put(d, content);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("blob " + d.ToString()));
  EXPECT_FALSE(Has(d));
  EXPECT_EQ(TempFiles(), 0u);
  fs_.FailRenames(0);
  ASSERT_TRUE(store_->Put(d, content).ok());
  EXPECT_EQ(store_->Get(d).value_or(""), content);
}

}  // namespace
}  // namespace kfarm
