// The remote CAS as a BlobAccess (common/grpc_blob_access.h), against the real kfarm-scheduler
// binary over loopback: what a worker streams in and a client streams out.
#include "common/grpc_blob_access.h"

#include "common/testing/temp_dir.h"
#include "common/verifying_blob_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scheduler_process.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Bytes that differ from one 4 KiB page to the next, so a piece out of place changes the digest.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + i / 4096);
  return s;
}

class GrpcBlobAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<SchedulerProcess>(dir_.path());
    ASSERT_GT(server_->port(), 0) << "scheduler did not start";
    remote_ = std::make_unique<GrpcBlobAccess>(server_->channel(), "");
  }
  // Writes `bytes` under `d` in pieces of `piece` bytes, with an owner or without.
  absl::Status WriteInPieces(const Digest& d, const std::string& bytes, size_t piece,
                             bool owned) {
    auto w = remote_->OpenWrite(d);
    if (!w.ok()) return w.status();
    auto owner = std::make_shared<const std::string>(bytes);
    for (size_t at = 0; at < bytes.size(); at += piece) {
      absl::string_view p = absl::string_view(*owner).substr(at, piece);
      absl::Status s = owned ? (*w)->WritePieces({p}, owner) : (*w)->Write(std::string(p));
      if (!s.ok()) return s;
    }
    return (*w)->Commit();
  }

  TempDir dir_;
  std::unique_ptr<SchedulerProcess> server_;
  std::unique_ptr<GrpcBlobAccess> remote_;
};

TEST_F(GrpcBlobAccessTest, StreamsBlobsBothWaysInPiecesOfAnySize) {
  const std::string big = Pattern((3 << 20) + 17), small = "a small blob";
  const Digest big_d = Digest::Of(big), small_d = Digest::Of(small);
  EXPECT_THAT(*remote_->FindMissing({big_d, small_d}), ElementsAre(big_d, small_d));
  ASSERT_TRUE(WriteInPieces(big_d, big, 700000, /*owned=*/true).ok());
  ASSERT_TRUE(WriteInPieces(small_d, small, 5, /*owned=*/false).ok());
  EXPECT_THAT(*remote_->FindMissing({big_d, small_d}), IsEmpty());

  auto reader = remote_->OpenRead(big_d);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->vouched());  // Bytes off the network: a verifying layer checks them.
  std::string got;
  for (;;) {
    auto piece = (*reader)->ReadPiece(300000);
    ASSERT_TRUE(piece.ok()) << piece.status();
    if (piece->data.empty()) break;
    EXPECT_LE(piece->data.size(), 300000u);
    got.append(piece->data.data(), piece->data.size());
  }
  EXPECT_TRUE(got == big);
  EXPECT_EQ(*remote_->Get(small_d), small);
  VerifyingBlobAccess verified(std::make_unique<GrpcBlobAccess>(server_->channel(), ""));
  EXPECT_TRUE(*verified.Get(big_d) == big);
}

TEST_F(GrpcBlobAccessTest, RefusalsNameTheBlob) {
  const std::string bytes = Pattern(100000);
  const Digest d = Digest::Of(bytes);

  std::string forged = bytes;
  forged[5000] ^= 1;
  absl::Status s = WriteInPieces(d, forged, 30000, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr(d.ToString()));

  s = WriteInPieces(d, bytes + "more", 30000, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("more than 100000 bytes"));

  s = WriteInPieces(d, bytes.substr(0, 99999), 30000, true);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(d.ToString()));

  {  // Abandoned before Commit: nothing is stored.
    auto w = remote_->OpenWrite(d);
    ASSERT_TRUE((*w)->Write(bytes.substr(0, 50000)).ok());
  }
  EXPECT_THAT(*remote_->FindMissing({d}), ElementsAre(d));

  auto got = remote_->Get(d);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr(d.ToString()));
}

}  // namespace
}  // namespace kfarm
