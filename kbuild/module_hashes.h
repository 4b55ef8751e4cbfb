// The module-hashes Merkle tree (kernel series v5, CONFIG_MODULE_HASHES): a SHA-256 binary tree
// over the built .ko files in modules.order order, whose root goes into vmlinux's
// .module_hashes section and whose per-module proofs are appended at install time.
//   leaf(i) = SHA256(0x01 || be32(i) || .ko bytes)
//   node    = SHA256(0x02 || left || right); an unpaired last node pairs with itself
//   levels  = 1 for one module, else ceil(log2(n))
#ifndef KFARM_KBUILD_MODULE_HASHES_H_
#define KFARM_KBUILD_MODULE_HASHES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sha256.h"

namespace kfarm {

Sha256Bytes ModuleLeaf(uint32_t index, absl::string_view ko_bytes);
absl::StatusOr<Sha256Bytes> ModuleLeafOfFile(uint32_t index, const std::string& path);

class ModuleHashTree {
 public:
  explicit ModuleHashTree(std::vector<Sha256Bytes> leaves);

  uint32_t levels() const { return levels_; }
  const Sha256Bytes& root() const { return levels_nodes_.back()[0]; }
  // struct module_hashes_root { u32 levels (little-endian, x86); u8 hash[32]; } — 36 bytes.
  std::string RootBlob() const;
  // The M.merkle proof for module `index`: be32 index, sibling leaf, one sibling per level above,
  // struct module_signature (id_type 3, be32 sig_len = 4 + 32 * levels), then the marker.
  std::string Proof(uint32_t index) const;

 private:
  uint32_t levels_;
  std::vector<Sha256Bytes> leaves_;
  std::vector<std::vector<Sha256Bytes>> levels_nodes_;  // [0] pairs leaves; back() is the root.
};

// Hashes the .ko files `kos` (in modules.order order) and writes the root blob to `root_file`
// and each module's proof beside it (M.ko -> M.merkle).
absl::StatusOr<ModuleHashTree> WriteModuleHashes(const std::vector<std::string>& kos,
                                                 const std::string& root_file);

// Recomputes the root from a proof and the module's leaf; for checking proofs.
absl::StatusOr<Sha256Bytes> RootFromProof(absl::string_view proof, const Sha256Bytes& leaf);

std::string HexOf(const Sha256Bytes& h);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULE_HASHES_H_
