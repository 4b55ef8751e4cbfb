#include "kbuild/module_hashes.h"

#include <filesystem>
#include <fstream>

#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

// Hand-built vectors: every hash spelled out from its definition, independent of the tree code.
Sha256Bytes H(const std::string& bytes) { return Sha256::Of(bytes); }
std::string B(const Sha256Bytes& h) { return std::string(reinterpret_cast<const char*>(h.data()), 32); }
std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}
Sha256Bytes Leaf(uint32_t i, const std::string& ko) { return H("\x01" + Be32(i) + ko); }
Sha256Bytes Pair(const Sha256Bytes& a, const Sha256Bytes& b) { return H("\x02" + B(a) + B(b)); }

TEST(ModuleHashesTest, LeafMatchesDefinition) {
  EXPECT_EQ(ModuleLeaf(7, "ko bytes"), H(std::string("\x01\x00\x00\x00\x07", 5) + "ko bytes"));
  // A published-style vector: leaf(0) of the empty module.
  EXPECT_EQ(HexOf(ModuleLeaf(0, "")), HexOf(H(std::string("\x01\0\0\0\0", 5))));
}

TEST(ModuleHashesTest, OneModulePairsWithItself) {
  Sha256Bytes l0 = Leaf(0, "a");
  ModuleHashTree t({l0});
  EXPECT_EQ(t.levels(), 1u);
  EXPECT_EQ(t.root(), Pair(l0, l0));
  std::string blob = t.RootBlob();
  ASSERT_EQ(blob.size(), 36u);
  EXPECT_EQ(blob.substr(0, 4), std::string("\x01\0\0\0", 4));
  EXPECT_EQ(blob.substr(4), B(Pair(l0, l0)));
}

TEST(ModuleHashesTest, FiveModulesByHand) {
  std::vector<std::string> kos = {"m0", "m1", "m2", "m3", "m4"};
  std::vector<Sha256Bytes> l;
  for (uint32_t i = 0; i < kos.size(); ++i) l.push_back(Leaf(i, kos[i]));
  Sha256Bytes n0 = Pair(l[0], l[1]), n1 = Pair(l[2], l[3]), n2 = Pair(l[4], l[4]);
  Sha256Bytes m0 = Pair(n0, n1), m1 = Pair(n2, n2);
  Sha256Bytes root = Pair(m0, m1);
  ModuleHashTree t(l);
  EXPECT_EQ(t.levels(), 3u);  // ceil(log2(5))
  EXPECT_EQ(t.root(), root);

  // Proof of module 4: index, sibling leaf (itself), n2's sibling (itself), m1's sibling m0.
  std::string expected = Be32(4) + B(l[4]) + B(n2) + B(m0);
  expected += std::string("\0\0\x03\0\0\0\0\0", 8) + Be32(4 + 32 * 3) + "~Module signature appended~\n";
  EXPECT_EQ(t.Proof(4), expected);
  EXPECT_EQ(t.Proof(4).size(), 4 + 96u + 12 + 28);

  for (uint32_t i = 0; i < kos.size(); ++i) {
    auto r = RootFromProof(t.Proof(i), l[i]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, root) << "module " << i;
    auto wrong = RootFromProof(t.Proof(i), Leaf(i, "tampered"));
    EXPECT_NE(*wrong, root);
  }
}

TEST(ModuleHashesTest, DistroScaleHasThirteenLevels) {
  std::vector<Sha256Bytes> l(4256);
  for (uint32_t i = 0; i < l.size(); ++i) l[i] = Leaf(i, std::to_string(i));
  ModuleHashTree t(l);
  EXPECT_EQ(t.levels(), 13u);
  EXPECT_EQ(t.Proof(4255).size() - 12 - 28, 420u);
  EXPECT_EQ(*RootFromProof(t.Proof(1234), l[1234]), t.root());
}

TEST(ModuleHashesTest, WritesTheRootAndAProofBesideEachModule) {
  TempDir dir;
  const std::vector<std::string> kos = {dir.path() + "/a.ko", dir.path() + "/fs/b.ko"};
  std::filesystem::create_directories(dir.path() + "/fs");
  std::ofstream(kos[0]) << "module a";
  std::ofstream(kos[1]) << "module b";
  auto tree = WriteModuleHashes(kos, dir.path() + "/modules.hashes.root");
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(tree->root(), Pair(Leaf(0, "module a"), Leaf(1, "module b")));
  EXPECT_EQ(ReadFile(dir.path() + "/modules.hashes.root").value_or(""), tree->RootBlob());
  auto proof = ReadFile(dir.path() + "/fs/b.merkle");
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(*RootFromProof(*proof, Leaf(1, "module b")), tree->root());
  // A module that is not there is named.
  EXPECT_THAT(WriteModuleHashes({dir.path() + "/gone.ko"}, dir.path() + "/r").status().message(),
              ::testing::HasSubstr("gone.ko"));
}

}  // namespace
}  // namespace kfarm
