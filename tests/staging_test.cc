// The worker's input staging against a real scheduler's CAS: it stages from the Directory
// messages the scheduler sent along with the assignment, and only otherwise asks for the tree.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/input_tree.h"
#include "gmock/gmock.h"
#include "tests/execution_fixture.h"
#include "worker/file_cache.h"
#include "worker/input_stager.h"

namespace kfarm {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(ExecutionTest, InputsStageFromTheDirectoriesSentAlong) {
  StartFarm(0, 1);
  // Only the file is in the CAS; its Directory messages are not.
  const std::string content = "module object";
  const Digest file = Digest::Of(content);
  ASSERT_TRUE(cas_->UploadMissing({{file, "", std::make_shared<const std::string>(content)}}).ok());
  InputTree tree;
  ASSERT_TRUE(tree.AddFile("fs/nls/nls_cp437.o", file, false).ok());
  InputTree::Built built = tree.Build();
  google::protobuf::RepeatedPtrField<reapi::Directory> given;
  for (const auto& [d, bytes] : built.directories) ASSERT_TRUE(given.Add()->ParseFromString(bytes));

  auto cache = FileCache::Open({dir_.path() + "/cache", int64_t{1} << 30}, cas_.get());
  ASSERT_TRUE(cache.ok()) << cache.status();
  InputStager stager(cas_.get(), cache->get(), /*link=*/false);
  const std::string sent = dir_.path() + "/sent", fetched = dir_.path() + "/fetched";
  std::filesystem::create_directories(sent);
  std::filesystem::create_directories(fetched);
  absl::Status s = stager.Stage(built.root, sent, given);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ReadFile(sent + "/fs/nls/nls_cp437.o"), content);

  // Without them the tree is asked for, and here the scheduler does not have it.
  s = stager.Stage(built.root, fetched);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(built.root.ToString()));

  // A Directory that does not match its digest is never staged from.
  for (auto& d : given) {
    if (d.files_size() > 0) d.mutable_files(0)->set_name("renamed.o");
  }
  std::filesystem::remove_all(sent);
  std::filesystem::create_directories(sent);
  EXPECT_FALSE(stager.Stage(built.root, sent, given).ok());
}

}  // namespace
}  // namespace kfarm
