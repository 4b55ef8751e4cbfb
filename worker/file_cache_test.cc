// The worker's file cache on a fake remote CAS that counts, holds and fails its fetches.
#include "worker/file_cache.h"

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/testing/fake_cas.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FileCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileCache> Open(int64_t max_bytes = int64_t{1} << 30) {
    auto cache = FileCache::Open({dir_.path() + "/cache", max_bytes}, &cas_);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return std::move(*cache);
  }

  TempDir dir_;
  FakeCas cas_;
};

TEST_F(FileCacheTest, ActionsWantingTheSameBlobAtOnceFetchItOnce) {
  const std::string base(3 << 20, 'b');  // Streamed.
  const std::string obj = "module.o";   // Batched.
  cas_.Add(base);
  cas_.Add(obj);
  auto cache = Open();
  cas_.Hold();
  std::vector<std::thread> actions;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    actions.emplace_back([&] {
      ok += cache->Ensure({{Digest::Of(base), false}, {Digest::Of(obj), false}}).ok();
    });
  }
  while (cas_.calls() == 0) std::this_thread::yield();  // The first has claimed both.
  absl::SleepFor(absl::Milliseconds(50));  // Let the others arrive and find them in flight.
  cas_.Release();
  for (auto& t : actions) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(cas_.fetches(Digest::Of(base)), 1);
  EXPECT_EQ(cas_.fetches(Digest::Of(obj)), 1);
  EXPECT_EQ(ReadFile(cache->Path(Digest::Of(obj), false)).value_or(""), obj);
  EXPECT_EQ(cache->bytes_fetched(), static_cast<int64_t>(base.size() + obj.size()));
  EXPECT_THAT(cache->TakeNewLargeBlobs(), ElementsAre(Digest::Of(base)));  // For affinity.
  EXPECT_TRUE(cache->TakeNewLargeBlobs().empty());
}

TEST_F(FileCacheTest, AFailedFetchFailsEveryWaiterThenTheNextTryFetchesAgain) {
  const std::string obj = "module.o";
  cas_.Add(obj);
  auto cache = Open();
  cas_.Hold();
  cas_.FailNext(1);
  absl::Status first, second;
  std::thread a([&] { first = cache->Ensure({{Digest::Of(obj), false}}); });
  while (cas_.calls() == 0) std::this_thread::yield();
  std::thread b([&] { second = cache->Ensure({{Digest::Of(obj), false}}); });
  absl::SleepFor(absl::Milliseconds(50));
  cas_.Release();
  a.join();
  b.join();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  // The waiter shares the fetch's fate, or (arriving after it) fetched again itself.
  EXPECT_TRUE(second.code() == absl::StatusCode::kUnavailable || second.ok()) << second;
  ASSERT_TRUE(cache->Ensure({{Digest::Of(obj), false}}).ok());  // Nothing stuck in flight.
  EXPECT_EQ(ReadFile(cache->Path(Digest::Of(obj), false)).value_or(""), obj);
}

TEST_F(FileCacheTest, ExecutablesAreKeptApartAndReadOnly) {
  const std::string tool = "#!/bin/sh\n";
  cas_.Add(tool);
  auto cache = Open();
  ASSERT_TRUE(cache->Ensure({{Digest::Of(tool), true}, {Digest::Of(tool), false}}).ok());
  struct stat exec_st, plain_st;
  ASSERT_EQ(stat(cache->Path(Digest::Of(tool), true).c_str(), &exec_st), 0);
  ASSERT_EQ(stat(cache->Path(Digest::Of(tool), false).c_str(), &plain_st), 0);
  EXPECT_EQ(exec_st.st_mode & 0777, 0555u);
  EXPECT_EQ(plain_st.st_mode & 0777, 0444u);
  EXPECT_EQ(cas_.fetches(Digest::Of(tool)), 2);  // One per store: the bit is part of the key.
  ASSERT_TRUE(cache->Ensure({{Digest::Of(tool), true}}).ok());
  EXPECT_EQ(cas_.fetches(Digest::Of(tool)), 2);  // Present: not fetched again.
}

TEST_F(FileCacheTest, AnEvictedBlobIsFetchedAgainWhenWanted) {
  std::vector<std::string> objs;
  for (char c : {'a', 'b', 'c', 'd'}) {
    objs.emplace_back(300 << 10, c);
    cas_.Add(objs.back());
  }
  auto cache = Open(int64_t{800} << 10);  // Holds two of them (7/8 for plain files).
  for (const auto& o : objs) ASSERT_TRUE(cache->Ensure({{Digest::Of(o), false}}).ok());
  ASSERT_TRUE(cache->Ensure({{Digest::Of(objs[0]), false}}).ok());
  EXPECT_EQ(cas_.fetches(Digest::Of(objs[0])), 2);
  EXPECT_EQ(ReadFile(cache->Path(Digest::Of(objs[0]), false)).value_or(""), objs[0]);
}

}  // namespace
}  // namespace kfarm
