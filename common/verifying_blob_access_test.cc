#include "common/verifying_blob_access.h"

#include "common/disk_blob_access.h"
#include "common/memory_blob_access.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The same CAS over each backend the scheduler can be configured with.
class VerifyingBlobAccessTest : public ::testing::TestWithParam<std::string> {
 protected:
  VerifyingBlobAccessTest() {
    std::unique_ptr<BlobAccess> base;
    if (GetParam() == "disk") {
      auto disk = DiskBlobAccess::Open({dir_.path(), 1 << 30});
      EXPECT_TRUE(disk.ok()) << disk.status();
      (*disk)->WaitForReconcile();
      base = std::move(*disk);
    } else {
      base = std::make_unique<MemoryBlobAccess>(1 << 30);
    }
    base_ = base.get();
    cas_ = std::make_unique<VerifyingBlobAccess>(std::move(base));
  }
  std::vector<Digest> Missing(std::vector<Digest> ds) {
    auto m = base_->FindMissing(ds);
    EXPECT_TRUE(m.ok());
    return *m;
  }

  TempDir dir_;
  BlobAccess* base_;
  std::unique_ptr<VerifyingBlobAccess> cas_;
};

TEST_P(VerifyingBlobAccessTest, RejectsWrongContentAndWrongSizeAndStoresNothing) {
  Digest d = Digest::Of("right");
  absl::Status s = cas_->Put(d, "wrong");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(d.ToString()));
  EXPECT_THAT(s.message(), HasSubstr(Digest::Of("wrong").ToString()));

  Digest wrong_size(d.hash(), 99);
  s = cas_->Put(wrong_size, "right");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("received 5 bytes, digest says 99"));
  Digest short_size(d.hash(), 3);
  s = cas_->Put(short_size, "right");
  EXPECT_THAT(s.message(), HasSubstr("more than 3 bytes"));
  EXPECT_THAT(Missing({d, wrong_size, short_size}), ElementsAre(d, wrong_size, short_size));

  ASSERT_TRUE(cas_->Put(d, "right").ok());
  EXPECT_EQ(*cas_->Get(d), "right");
}

// Pieces handed over with an owner: a large blob is hashed on another thread, after WritePieces
// returns. The verdict must be the same as for any write, and the bytes must stay in order.
TEST_P(VerifyingBlobAccessTest, LargeBlobsHashedAsideAreVerifiedLikeAnyOther) {
  std::string data(6 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  auto write = [&](const Digest& d, const std::string& bytes) -> absl::Status {
    auto w = cas_->OpenWrite(d);
    if (!w.ok()) return w.status();
    for (size_t off = 0; off < bytes.size(); off += 1 << 20) {
      auto owner = std::make_shared<const std::string>(bytes.substr(off, 1 << 20));
      absl::string_view v = *owner;
      if (off == (2 << 20)) {  // A plain write in the middle keeps its place.
        if (absl::Status s = (*w)->Write(v); !s.ok()) return s;
        continue;
      }
      if (absl::Status s = (*w)->WritePieces({v.substr(0, 1000), v.substr(1000)}, owner);
          !s.ok()) {
        return s;
      }
    }
    return (*w)->Commit();
  };
  Digest d = Digest::Of(data);
  ASSERT_TRUE(write(d, data).ok());
  auto got = cas_->Get(d);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);

  std::string forged = data;
  forged[(5 << 20) + 3] ^= 1;
  Digest claimed = Digest::Of(data.substr(0, data.size() - 1) + "x");
  absl::Status s = write(claimed, forged);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(claimed.ToString()));
  EXPECT_THAT(s.message(), HasSubstr(Digest::Of(forged).ToString()));
  s = write(Digest(d.hash(), d.size() - 1), data);
  EXPECT_THAT(s.message(), HasSubstr("more than"));
  EXPECT_THAT(Missing({d, claimed}), ElementsAre(claimed));
}

INSTANTIATE_TEST_SUITE_P(Backends, VerifyingBlobAccessTest, ::testing::Values("disk", "memory"),
                         [](const auto& info) { return info.param; });

// A backend that hands out whatever bytes it was given under any key, vouching or not as told,
// and remembers the verdicts it is given.
class LooseStore : public BlobAccess {
 public:
  std::string bytes;
  bool vouch = false;
  std::vector<absl::Status> verdicts;

 protected:
  class Reader : public StringBlobReader {
   public:
    explicit Reader(LooseStore* store)
        : StringBlobReader(std::make_shared<const std::string>(store->bytes), store->vouch),
          store_(store) {}
    absl::Status Verdict(absl::Status v) override {
      store_->verdicts.push_back(v);
      return v.ok() ? v : absl::NotFoundError("removed by the store");
    }

   private:
    LooseStore* store_;
  };
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest&) override {
    return std::make_unique<Reader>(this);
  }
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest&) override {
    return absl::UnimplementedError("read-only");
  }
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest>) override {
    return std::vector<Digest>{};
  }
};

TEST(VerifyingBlobAccessReadTest, UnvouchedBytesAreCheckedAndTheVerdictGoesToTheStore) {
  auto owned = std::make_unique<LooseStore>();
  LooseStore* store = owned.get();
  VerifyingBlobAccess cas(std::move(owned));
  Digest d = Digest::Of("the blob");

  store->bytes = "the blob";
  EXPECT_EQ(*cas.Get(d), "the blob");
  ASSERT_EQ(store->verdicts.size(), 1u);
  EXPECT_TRUE(store->verdicts[0].ok());

  store->bytes = "the blub";
  auto got = cas.Get(d);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(store->verdicts.size(), 2u);
  EXPECT_THAT(store->verdicts[1].message(), HasSubstr(d.ToString()));

  // Too many bytes are condemned before they are handed out, not at the end.
  store->bytes = std::string(100, 'x');
  auto reader = cas.OpenRead(d);
  ASSERT_TRUE(reader.ok());
  char buf[100];
  auto n = (*reader)->Read(buf, sizeof buf);
  EXPECT_FALSE(n.ok());
  ASSERT_EQ(store->verdicts.size(), 3u);
  EXPECT_THAT(store->verdicts[2].message(), HasSubstr("more than its 8 bytes"));
}

TEST(VerifyingBlobAccessReadTest, VouchedBytesAreNotHashedAgain) {
  auto owned = std::make_unique<LooseStore>();
  LooseStore* store = owned.get();
  VerifyingBlobAccess cas(std::move(owned));
  store->bytes = "checked by the store";
  store->vouch = true;
  // The store's word is taken (here falsely, to show that it is): no second hash, no verdict.
  EXPECT_EQ(*cas.Get(Digest::Of("something else")), "checked by the store");
  EXPECT_TRUE(store->verdicts.empty());
}

}  // namespace
}  // namespace kfarm
