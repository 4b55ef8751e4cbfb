#include "common/blob_access.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Accepts writes of the empty blob without touching the store: it is always present anyway.
class EmptyBlobWriter : public BlobWriter {
 public:
  absl::Status Write(absl::string_view data) override {
    written_ += data.size();
    return absl::OkStatus();
  }
  int64_t bytes_written() const override { return written_; }
  absl::Status Commit() override {
    if (written_ != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "blob ", Digest::Empty().ToString(), " is the empty blob but ", written_,
          " bytes were sent"));
    }
    return absl::OkStatus();
  }

 private:
  int64_t written_ = 0;
};

}  // namespace

absl::Status BlobWriter::WritePieces(absl::Span<const absl::string_view> pieces,
                                     std::shared_ptr<const void>) {
  for (absl::string_view p : pieces) RETURN_IF_ERROR(Write(p));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlobReader>> BlobAccess::OpenRead(const Digest& digest) {
  if (digest.empty_blob()) {
    return std::make_unique<StringBlobReader>(std::make_shared<const std::string>(),
                                              /*vouched=*/true);
  }
  return DoOpenRead(digest);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobAccess::OpenWrite(const Digest& digest) {
  if (digest.empty_blob()) return std::make_unique<EmptyBlobWriter>();
  return DoOpenWrite(digest);
}

absl::StatusOr<std::vector<Digest>> BlobAccess::FindMissing(absl::Span<const Digest> digests) {
  std::vector<Digest> nonempty;
  nonempty.reserve(digests.size());
  for (const Digest& d : digests) {
    if (!d.empty_blob()) nonempty.push_back(d);
  }
  return DoFindMissing(nonempty);
}

absl::StatusOr<std::string> BlobAccess::Get(const Digest& digest) {
  ASSIGN_OR_RETURN(auto reader, OpenRead(digest));
  return ReadAll(*reader, static_cast<size_t>(digest.size()));
}

absl::Status BlobAccess::Put(const Digest& digest, absl::string_view data) {
  ASSIGN_OR_RETURN(auto writer, OpenWrite(digest));
  RETURN_IF_ERROR(writer->Write(data));
  return writer->Commit();
}

absl::StatusOr<std::string> ReadAll(BlobReader& reader, size_t expected) {
  std::string out;
  out.reserve(expected);
  // An uninitialised buffer one byte larger than expected: the end shows in the second read,
  // and no zero-filled 64 KiB goes with every small blob.
  const size_t size = std::clamp<size_t>(expected + 1, 1, 4 << 20);
  std::unique_ptr<char[]> buf(new char[size]);
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, reader.Read(buf.get(), size));
    if (n == 0) return out;
    out.append(buf.get(), n);
  }
}

absl::StatusOr<BlobPiece> BlobReader::ReadPiece(size_t max) {
  auto buf = std::make_shared<std::string>();
  buf->resize(max);
  ASSIGN_OR_RETURN(size_t n, Read(buf->data(), max));
  buf->resize(n);
  return BlobPiece{*buf, std::move(buf)};
}

absl::StatusOr<BlobPiece> StringBlobReader::ReadPiece(size_t max) {
  size_t n = std::min(max, data_->size() - pos_);
  BlobPiece piece{absl::string_view(data_->data() + pos_, n), data_};
  pos_ += n;
  return piece;
}

absl::StatusOr<size_t> StringBlobReader::Read(char* buf, size_t max) {
  size_t n = std::min(max, data_->size() - pos_);
  std::memcpy(buf, data_->data() + pos_, n);
  pos_ += n;
  return n;
}

}  // namespace kfarm
