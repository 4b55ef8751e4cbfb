// The worker's build directory against a real scheduler: input staging uses the Directory
// messages the scheduler sent along with the assignment, and only otherwise asks for the tree;
// a reused directory starts each action as if new.
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
  // Only the file is in the CAS; its Directory blobs are not.
  const std::string content = "module object";
  const Digest file = Digest::Of(content);
  ASSERT_TRUE(cas_->UploadMissing({{file, "", std::make_shared<const std::string>(content)}}).ok());
  InputTree tree;
  ASSERT_TRUE(tree.AddFile("fs/nls/nls_cp437.o", file, false).ok());
  InputTree::Built built = tree.Build();
  google::protobuf::RepeatedPtrField<std::string> given;
  for (const auto& [d, bytes] : built.directories) *given.Add() = bytes;

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

  // A Directory whose bytes changed has another digest: it is never staged from.
  for (std::string& bytes : given) {
    reapi::Directory d;
    ASSERT_TRUE(d.ParseFromString(bytes));
    if (d.files_size() > 0) d.mutable_files(0)->set_name("renamed.o");
    bytes = d.SerializeAsString();
  }
  std::filesystem::remove_all(sent);
  std::filesystem::create_directories(sent);
  EXPECT_FALSE(stager.Stage(built.root, sent, given).ok());
}

// An empty input file (gen-btf.sh's auto.conf has none of the lines it reads on x86) is made,
// not linked from the cache: the empty blob is never fetched, so no cache file holds it.
TEST_F(ExecutionTest, EmptyInputFilesAreStaged) {
  StartFarm(1, 1);
  InputTree tree;
  ASSERT_TRUE(tree.AddFile("include/config/auto.conf", Digest::Empty(), false).ok());
  ASSERT_TRUE(tree.AddFile("tools/empty-tool", Digest::Empty(), true).ok());
  InputTree::Built built = tree.Build();
  std::vector<BlobSource> blobs;
  for (const auto& [d, bytes] : built.directories) {
    blobs.push_back({d, "", std::make_shared<const std::string>(bytes)});
  }
  ASSERT_TRUE(cas_->UploadMissing(blobs).ok());
  ActionSpec spec = Shell("wc -c < include/config/auto.conf; test -x tools/empty-tool && echo exec");
  spec.input_root = built.root;
  spec.do_not_cache = true;
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  EXPECT_EQ(Blob(r->result().stdout_digest()), "0\nexec\n");
}

// Without a sandbox, stdout and stderr are descriptors the slot keeps open: the next action must
// see them empty and written from the start (not after a hole the size of the last output), and
// nothing of the last action's files.
TEST_F(ExecutionTest, ReusedBuildDirectoryStartsEveryActionEmpty) {
  StartFarm(1, 1, "none");
  ActionSpec loud = Shell("seq 1 5000; seq 1 3000 >&2; echo left > litter; mkdir -p d/e; : > d/e/f");
  loud.do_not_cache = true;
  for (const char* quiet_stdout : {"echo out; ", ""}) {
    auto first = Run(loud);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(first->result().exit_code(), 0);
    ASSERT_GT(first->result().stdout_digest().size_bytes(), 20000);
    ActionSpec quiet = Shell(std::string(quiet_stdout) + "ls -A >&2");
    quiet.do_not_cache = true;
    auto next = Run(quiet);
    ASSERT_TRUE(next.ok()) << next.status();
    // Sizes first: a stale file's contents would drown the report.
    ASSERT_EQ(next->result().stdout_digest().size_bytes(), *quiet_stdout ? 4 : 0);
    ASSERT_EQ(next->result().stderr_digest().size_bytes(), 0) << Blob(next->result().stderr_digest());
    EXPECT_EQ(Blob(next->result().stdout_digest()), *quiet_stdout ? "out\n" : "");
  }
}

}  // namespace
}  // namespace kfarm
