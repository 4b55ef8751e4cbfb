#include "common/bytestream_wire.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

// Field numbers and wire types shared by ReadResponse and WriteRequest (google.bytestream).
constexpr uint32_t kResourceName = 1, kWriteOffset = 2, kFinishWrite = 3, kData = 10;
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads protobuf wire format across the slices a message arrived in; fields may straddle them.
class SliceCursor {
 public:
  explicit SliceCursor(const std::vector<grpc::Slice>& slices) : slices_(slices) { Advance(0); }

  bool done() const { return i_ == slices_.size(); }

  bool ReadVarint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) return false;
      const uint8_t b = slices_[i_].begin()[off_];
      Advance(1);
      *v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  // The next n bytes, appended to `pieces` as views (or skipped when `pieces` is null).
  bool Take(uint64_t n, std::vector<absl::string_view>* pieces) {
    while (n > 0) {
      if (done()) return false;
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, slices_[i_].size() - off_));
      if (pieces != nullptr) {
        pieces->emplace_back(reinterpret_cast<const char*>(slices_[i_].begin()) + off_, k);
      }
      Advance(k);
      n -= k;
    }
    return true;
  }

 private:
  void Advance(size_t k) {
    off_ += k;
    while (i_ < slices_.size() && off_ == slices_[i_].size()) {
      ++i_;
      off_ = 0;
    }
  }

  const std::vector<grpc::Slice>& slices_;
  size_t i_ = 0;
  size_t off_ = 0;
};

// Where the fields a message knows go; null for fields the message does not have.
struct Fields {
  std::string* resource_name = nullptr;
  int64_t* write_offset = nullptr;
  bool* finish_write = nullptr;
  DataPieces* data = nullptr;
};

absl::Status Malformed(absl::string_view message, uint64_t field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(message, " is malformed: field ", field, " ", what));
}

absl::Status ParseFields(const grpc::ByteBuffer& bytes, std::vector<grpc::Slice>* slices,
                         absl::string_view message, const Fields& f) {
  slices->clear();
  if (!bytes.Dump(slices).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(message, ": could not read the message bytes"));
  }
  SliceCursor in(*slices);
  std::vector<absl::string_view> scratch;
  while (!in.done()) {
    uint64_t tag;
    if (!in.ReadVarint(&tag)) return Malformed(message, 0, "tag is truncated");
    const uint64_t field = tag >> 3;
    const uint32_t type = static_cast<uint32_t>(tag & 7);
    uint64_t value = 0;
    switch (type) {
      case kVarint:
        if (!in.ReadVarint(&value)) return Malformed(message, field, "varint is truncated");
        if (field == kWriteOffset && f.write_offset) *f.write_offset = static_cast<int64_t>(value);
        if (field == kFinishWrite && f.finish_write) *f.finish_write = value != 0;
        break;
      case kFixed64:
      case kFixed32:
        if (!in.Take(type == kFixed64 ? 8 : 4, nullptr)) {
          return Malformed(message, field, "fixed-size value is truncated");
        }
        break;
      case kLengthDelimited: {
        if (!in.ReadVarint(&value)) return Malformed(message, field, "length is truncated");
        std::vector<absl::string_view>* out = nullptr;
        if (field == kData && f.data) {
          f.data->pieces.clear();  // A repeated singular field: the last one wins.
          f.data->size = static_cast<int64_t>(value);
          out = &f.data->pieces;
        } else if (field == kResourceName && f.resource_name) {
          scratch.clear();
          out = &scratch;
        }
        if (!in.Take(value, out)) {
          return Malformed(message, field, absl::StrCat("claims ", value, " bytes; fewer remain"));
        }
        if (out == &scratch) {
          f.resource_name->clear();
          for (absl::string_view p : scratch) f.resource_name->append(p.data(), p.size());
        }
        break;
      }
      default:
        return Malformed(message, field, absl::StrCat("has wire type ", type,
                                                      ", which ByteStream never uses"));
    }
  }
  return absl::OkStatus();
}

uint8_t* PutVarint(uint64_t v, uint8_t* p) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// `header` (every field but data, and data's tag and length) copied, data referenced.
grpc::ByteBuffer Frame(const std::string& header, BlobPiece data) {
  if (data.data.empty()) {
    grpc::Slice only(header);
    return grpc::ByteBuffer(&only, 1);
  }
  auto* owner = new std::shared_ptr<const void>(std::move(data.owner));
  grpc::Slice slices[2] = {
      grpc::Slice(header),
      grpc::Slice(const_cast<char*>(data.data.data()), data.data.size(),
                  [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); }, owner),
  };
  return grpc::ByteBuffer(slices, 2);
}

void AppendVarintField(uint32_t field, uint64_t v, std::string* out) {
  uint8_t buf[20];
  uint8_t* end = PutVarint((uint64_t{field} << 3) | kVarint, buf);
  end = PutVarint(v, end);
  out->append(reinterpret_cast<char*>(buf), static_cast<size_t>(end - buf));
}

void AppendLengthPrefix(uint32_t field, size_t length, std::string* out) {
  uint8_t buf[20];
  uint8_t* end = PutVarint((uint64_t{field} << 3) | kLengthDelimited, buf);
  end = PutVarint(length, end);
  out->append(reinterpret_cast<char*>(buf), static_cast<size_t>(end - buf));
}

}  // namespace

absl::Status ParseWriteRequest(const grpc::ByteBuffer& bytes, WriteRequestFrame* frame) {
  frame->resource_name.clear();
  frame->write_offset = 0;
  frame->finish_write = false;
  frame->data.pieces.clear();
  frame->data.size = 0;
  Fields f;
  f.resource_name = &frame->resource_name;
  f.write_offset = &frame->write_offset;
  f.finish_write = &frame->finish_write;
  f.data = &frame->data;
  return ParseFields(bytes, &frame->slices, "WriteRequest", f);
}

absl::Status ParseReadResponse(const grpc::ByteBuffer& bytes, ReadResponseFrame* frame) {
  frame->data.pieces.clear();
  frame->data.size = 0;
  Fields f;
  f.data = &frame->data;
  return ParseFields(bytes, &frame->slices, "ReadResponse", f);
}

grpc::ByteBuffer ReadResponseBytes(BlobPiece data) {
  std::string header;
  if (!data.data.empty()) AppendLengthPrefix(kData, data.data.size(), &header);
  return Frame(header, std::move(data));
}

grpc::ByteBuffer WriteRequestBytes(absl::string_view resource_name, int64_t write_offset,
                                   bool finish_write, BlobPiece data) {
  std::string header;
  if (!resource_name.empty()) {
    AppendLengthPrefix(kResourceName, resource_name.size(), &header);
    header.append(resource_name.data(), resource_name.size());
  }
  if (write_offset != 0) AppendVarintField(kWriteOffset, static_cast<uint64_t>(write_offset), &header);
  if (finish_write) AppendVarintField(kFinishWrite, 1, &header);
  if (!data.data.empty()) AppendLengthPrefix(kData, data.data.size(), &header);
  return Frame(header, std::move(data));
}

}  // namespace kfarm
