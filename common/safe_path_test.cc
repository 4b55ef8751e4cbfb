#include "common/safe_path.h"

#include <unistd.h>

#include <filesystem>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

TEST(SafePathTest, RelativePathsWithoutDotSegmentsPass) {
  EXPECT_TRUE(CheckRelativePath("a", "f").ok());
  EXPECT_TRUE(CheckRelativePath("a/b.c/d", "f").ok());
  EXPECT_TRUE(CheckRelativePath("..a/b..", "f").ok());
}

TEST(SafePathTest, EscapesAreRefusedNamingTheField) {
  for (const char* bad : {"", "/abs", "../x", "a/../../x", "a//b", "a/./b", "a/", "."}) {
    absl::Status s = CheckRelativePath(bad, "output_files[2].path");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("output_files[2].path")) << bad;
  }
}

TEST(SafePathTest, HugeValuesAreShownShortened) {
  std::string huge = "/" + std::string(1 << 20, 'x');
  absl::Status s = CheckRelativePath(huge, "working_directory");
  EXPECT_LT(s.message().size(), 400u);
  EXPECT_THAT(s.message(), HasSubstr("1048577 bytes"));
}

TEST(SafePathTest, SymlinkTargetsStayInside) {
  EXPECT_TRUE(CheckSymlinkTarget("a/b/link", "../c", false, "t").ok());
  EXPECT_TRUE(CheckSymlinkTarget("a/b/link", "../../c", false, "t").ok());
  EXPECT_TRUE(CheckSymlinkTarget("link", "./c/./d", false, "t").ok());
  EXPECT_FALSE(CheckSymlinkTarget("a/b/link", "../../../c", false, "t").ok());
  EXPECT_FALSE(CheckSymlinkTarget("link", "..", false, "t").ok());
  EXPECT_FALSE(CheckSymlinkTarget("link", "c/../../d", false, "t").ok());
  absl::Status abs = CheckSymlinkTarget("link", "/etc/passwd", false, "output_symlinks[0].target");
  EXPECT_THAT(abs.message(), HasSubstr("output_symlinks[0].target \"/etc/passwd\" is absolute"));
  EXPECT_TRUE(CheckSymlinkTarget("link", "/usr/bin/cc", true, "t").ok());
  EXPECT_FALSE(CheckSymlinkTarget("link", "", true, "t").ok());
}

TEST(SafePathTest, PathUnderRefusesToGoThroughASymlink) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/out/real");
  std::filesystem::create_directory_symlink("/tmp", tmp.path() + "/out/escape");
  auto ok = PathUnder(tmp.path() + "/out", "real/new/file", "f");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, tmp.path() + "/out/real/new/file");
  auto bad = PathUnder(tmp.path() + "/out", "escape/file", "output_files[0].path");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("a symlink"));
  // The last segment may be a symlink: it is replaced, never written through.
  EXPECT_TRUE(PathUnder(tmp.path() + "/out", "escape", "f").ok());
}

}  // namespace
}  // namespace kfarm
