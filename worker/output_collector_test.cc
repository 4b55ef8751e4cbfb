// Collecting an action's outputs into an ActionResult, uploads kept by a fake CAS.
#include "worker/output_collector.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/testing/kept_uploads.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class OutputCollectorTest : public ::testing::Test {
 protected:
  OutputCollectorTest() : root_(dir_.path() + "/root") {
    std::filesystem::create_directories(root_);
    std::ofstream(dir_.path() + "/stdout") << "built\n";
    std::ofstream(dir_.path() + "/stderr");
  }
  void Write(const std::string& rel, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << content;
  }
  absl::Status Collect(const std::vector<std::string>& outputs, reapi::ActionResult* r) {
    reapi::Command c;
    for (const auto& o : outputs) c.add_output_paths(o);
    return CollectOutputs(cas_, c, root_, root_, dir_.path() + "/stdout", dir_.path() + "/stderr",
                          r);
  }

  TempDir dir_;
  std::string root_;
  KeptUploads cas_;
};

TEST_F(OutputCollectorTest, FilesDirectoriesAndSymlinksBecomeTheResultAndTheirBytesAreUploaded) {
  Write("out/m.ko", "module");
  Write("tool", "#!/bin/sh\n");
  ASSERT_EQ(chmod((root_ + "/tool").c_str(), 0755), 0);
  Write("gen/include/a.h", "int a;\n");
  ASSERT_EQ(symlink("out/m.ko", (root_ + "/latest").c_str()), 0);
  reapi::ActionResult r;
  ASSERT_TRUE(Collect({"out/m.ko", "tool", "gen", "latest", "never/made"}, &r).ok());

  ASSERT_EQ(r.output_files_size(), 2);
  EXPECT_EQ(r.output_files(0).path(), "out/m.ko");
  EXPECT_FALSE(r.output_files(0).is_executable());
  EXPECT_TRUE(r.output_files(1).is_executable());
  EXPECT_EQ(cas_.kept[Digest::Of("module")], "module");
  ASSERT_EQ(r.output_directories_size(), 1);
  auto tree_digest = Digest::FromProto(r.output_directories(0).tree_digest());
  ASSERT_TRUE(tree_digest.ok());
  reapi::Tree tree;
  ASSERT_TRUE(tree.ParseFromString(cas_.kept[*tree_digest]));
  ASSERT_EQ(tree.root().directories_size(), 1);
  EXPECT_EQ(tree.root().directories(0).name(), "include");
  EXPECT_EQ(cas_.kept[Digest::Of("int a;\n")], "int a;\n");
  ASSERT_EQ(r.output_symlinks_size(), 1);
  EXPECT_EQ(r.output_symlinks(0).target(), "out/m.ko");
  EXPECT_EQ(r.output_file_symlinks_size(), 1);  // For clients that read the typed lists.
  // The missing output is left out; stdout is a blob, the empty stderr needs none.
  EXPECT_EQ(cas_.kept[Digest::Of("built\n")], "built\n");
  EXPECT_EQ(Digest::FromProto(r.stderr_digest()).value(), Digest::Of(""));
  EXPECT_FALSE(cas_.kept.contains(Digest::Of("")));
}

TEST_F(OutputCollectorTest, AnOutputBehindASymlinkOutOfTheRootIsRefusedNotRead) {
  const std::string outside = dir_.path() + "/host-secrets";
  std::filesystem::create_directories(outside);
  std::ofstream(outside + "/key") << "secret";
  ASSERT_EQ(symlink(outside.c_str(), (root_ + "/out").c_str()), 0);
  reapi::ActionResult r;
  absl::Status s = Collect({"out/key"}, &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("output \"out/key\": its directory leads out of the input root"));
  EXPECT_FALSE(cas_.kept.contains(Digest::Of("secret")));
  EXPECT_THAT(r.output_files(), IsEmpty());
}

TEST_F(OutputCollectorTest, AnAbsoluteOutputSymlinkIsAFailedPrecondition) {
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/link").c_str()), 0);
  reapi::ActionResult r;
  absl::Status s = Collect({"link"}, &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("output symlink \"link\" target"));
}

}  // namespace
}  // namespace kfarm
