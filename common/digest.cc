#include "common/digest.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Digest Digest::Of(absl::string_view data) {
  return Digest(Sha256::Of(data), static_cast<int64_t>(data.size()));
}

const Digest& Digest::Empty() {
  static const Digest* empty = new Digest(Of(""));
  return *empty;
}

absl::StatusOr<Digest> Digest::FromHexAndSize(absl::string_view hex, int64_t size) {
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat("digest hash \"", hex, "\" has ", hex.size(),
                                                   " characters; SHA-256 needs 64 lowercase hex"));
  }
  Sha256Bytes bytes;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "digest hash \"", hex, "\" is not lowercase hex (offending character at ",
          hi < 0 ? 2 * i : 2 * i + 1, ")"));
    }
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest ", hex, "/", size, " has a negative size"));
  }
  return Digest(bytes, size);
}

absl::StatusOr<Digest> Digest::FromProto(const reapi::Digest& proto) {
  return FromHexAndSize(proto.hash(), proto.size_bytes());
}

bool Digest::ParseSize(absl::string_view text, int64_t* size) {
  if (text.empty() || text.size() > 19) return false;  // 19 digits hold every int64.
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(text, size);  // Fails on overflow.
}

absl::StatusOr<Digest> Digest::Parse(absl::string_view text) {
  size_t slash = text.find('/');
  int64_t size = 0;
  if (slash == absl::string_view::npos || !ParseSize(text.substr(slash + 1), &size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a digest of the form HASH/SIZE"));
  }
  return FromHexAndSize(text.substr(0, slash), size);
}

reapi::Digest Digest::ToProto() const {
  reapi::Digest out;
  ToProto(&out);
  return out;
}

void Digest::ToProto(reapi::Digest* out) const {
  out->set_hash(hex());
  out->set_size_bytes(size_);
}

std::string Digest::hex() const {
  static const char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[hash_[i] >> 4];
    out[2 * i + 1] = kHex[hash_[i] & 15];
  }
  return out;
}

std::string Digest::ToString() const { return absl::StrCat(hex(), "/", size_); }

std::string DescribeDigest(const reapi::Digest& proto) {
  return absl::StrCat(proto.hash(), "/", proto.size_bytes());
}

}  // namespace kfarm
