#include "kbuild/module_hashes.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr char kMarker[] = "~Module signature appended~\n";
constexpr size_t kSignatureSize = 12;

void PutBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t GetBe32(absl::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(s[i]);
  return v;
}

Sha256Bytes Node(const Sha256Bytes& left, const Sha256Bytes& right) {
  Sha256 h;
  const uint8_t tag = 0x02;
  h.Update(&tag, 1);
  h.Update(left.data(), left.size());
  h.Update(right.data(), right.size());
  return h.Finish();
}

std::vector<Sha256Bytes> PairUp(const std::vector<Sha256Bytes>& level) {
  std::vector<Sha256Bytes> up;
  for (size_t i = 0; i < level.size(); i += 2) {
    up.push_back(Node(level[i], i + 1 < level.size() ? level[i + 1] : level[i]));
  }
  return up;
}

const Sha256Bytes& Sibling(const std::vector<Sha256Bytes>& level, size_t i) {
  size_t s = i ^ 1;
  return s < level.size() ? level[s] : level[i];
}

}  // namespace

Sha256Bytes ModuleLeaf(uint32_t index, absl::string_view ko_bytes) {
  Sha256 h;
  std::string prefix(1, '\x01');
  PutBe32(&prefix, index);
  h.Update(prefix);
  h.Update(ko_bytes);
  return h.Finish();
}

absl::StatusOr<Sha256Bytes> ModuleLeafOfFile(uint32_t index, const std::string& path) {
  Sha256 h;
  std::string prefix(1, '\x01');
  PutBe32(&prefix, index);
  h.Update(prefix);
  RETURN_IF_ERROR(ForEachChunk(path, [&](absl::string_view c) { h.Update(c); }));
  return h.Finish();
}

ModuleHashTree::ModuleHashTree(std::vector<Sha256Bytes> leaves) : leaves_(std::move(leaves)) {
  levels_nodes_.push_back(PairUp(leaves_));
  while (levels_nodes_.back().size() > 1) levels_nodes_.push_back(PairUp(levels_nodes_.back()));
  levels_ = static_cast<uint32_t>(levels_nodes_.size());
}

std::string ModuleHashTree::RootBlob() const {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((levels_ >> (8 * i)) & 0xff);
  out.append(reinterpret_cast<const char*>(root().data()), root().size());
  return out;
}

std::string ModuleHashTree::Proof(uint32_t index) const {
  std::string out;
  PutBe32(&out, index);
  const Sha256Bytes& leaf_sibling = Sibling(leaves_, index);
  out.append(reinterpret_cast<const char*>(leaf_sibling.data()), 32);
  size_t pos = index / 2;
  for (size_t level = 0; level + 1 < levels_nodes_.size(); ++level) {
    const Sha256Bytes& s = Sibling(levels_nodes_[level], pos);
    out.append(reinterpret_cast<const char*>(s.data()), 32);
    pos /= 2;
  }
  // struct module_signature: algo, hash, id_type (3 = Merkle), signer_len, key_id_len, pad[3],
  // be32 sig_len.
  out.append({0, 0, 3, 0, 0, 0, 0, 0});
  PutBe32(&out, 4 + 32 * levels_);
  out.append(kMarker);
  return out;
}

absl::StatusOr<Sha256Bytes> RootFromProof(absl::string_view proof, const Sha256Bytes& leaf) {
  const size_t tail = kSignatureSize + sizeof(kMarker) - 1;
  if (proof.size() < 4 + 32 + tail ||
      proof.substr(proof.size() - (sizeof(kMarker) - 1)) != kMarker) {
    return absl::InvalidArgumentError("not a module-hashes proof (marker or size wrong)");
  }
  absl::string_view body = proof.substr(0, proof.size() - tail);
  uint32_t sig_len = GetBe32(proof.substr(proof.size() - tail + 8, 4));
  if (sig_len != body.size() || (body.size() - 4) % 32 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("proof length ", body.size(), " does not match sig_len ", sig_len));
  }
  uint32_t index = GetBe32(body);
  Sha256Bytes node = leaf;
  size_t pos = index;
  for (size_t off = 4; off < body.size(); off += 32, pos /= 2) {
    Sha256Bytes sibling;
    std::memcpy(sibling.data(), body.data() + off, 32);
    node = (pos % 2 == 0) ? Node(node, sibling) : Node(sibling, node);
  }
  return node;
}

std::string HexOf(const Sha256Bytes& h) { return Digest(h, 0).hex(); }

absl::StatusOr<ModuleHashTree> WriteModuleHashes(const std::vector<std::string>& kos,
                                                 const std::string& root_file) {
  std::vector<Sha256Bytes> leaves;
  for (uint32_t i = 0; i < kos.size(); ++i) {
    ASSIGN_OR_RETURN(Sha256Bytes leaf, ModuleLeafOfFile(i, kos[i]));
    leaves.push_back(leaf);
  }
  ModuleHashTree tree(std::move(leaves));
  RETURN_IF_ERROR(WriteFileAtomic(root_file, tree.RootBlob(), false));
  for (uint32_t i = 0; i < kos.size(); ++i) {
    const std::string& ko = kos[i];
    RETURN_IF_ERROR(WriteFileAtomic(ko.substr(0, ko.size() - 3) + ".merkle", tree.Proof(i), false));
  }
  return tree;
}

}  // namespace kfarm
