#include "scheduler/result_recorder.h"

#include <memory>

#include "common/memory_blob_access.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

class ResultRecorderTest : public ::testing::Test {
 protected:
  // A cacheable execution of `tag` on instance "main", and a successful run of it.
  static std::unique_ptr<Execution> Executed(const std::string& tag) {
    auto e = std::make_unique<Execution>();
    e->params.instance_name = "main";
    e->params.action_digest = Digest::Of(tag);
    return e;
  }
  static reapi::ExecuteResponse Ran(int exit_code) {
    reapi::ExecuteResponse r;
    r.mutable_result()->set_exit_code(exit_code);
    return r;
  }
  bool Cached(const std::unique_ptr<Execution>& e) {
    return cache_.Get("main", e->params.action_digest).ok();
  }

  MemoryBlobAccess results_{1 << 20};
  ActionCache cache_{&results_};
};

TEST_F(ResultRecorderTest, OnlyCacheableSuccessesAreKept) {
  ResultRecorder recorder(&cache_, /*cache_nonzero_exit=*/false);
  auto ok = Executed("ok");
  recorder.Record(*ok, Ran(0));
  EXPECT_TRUE(Cached(ok));

  auto failed = Executed("exit 1");
  recorder.Record(*failed, Ran(1));
  EXPECT_FALSE(Cached(failed));

  auto uncacheable = Executed("do_not_cache");
  uncacheable->cacheable = false;
  recorder.Record(*uncacheable, Ran(0));
  EXPECT_FALSE(Cached(uncacheable));

  auto timed_out = Executed("timeout");
  reapi::ExecuteResponse r = Ran(0);
  r.mutable_status()->set_code(4);  // DEADLINE_EXCEEDED, with its partial result.
  recorder.Record(*timed_out, r);
  EXPECT_FALSE(Cached(timed_out));

  auto no_result = Executed("no result");
  recorder.Record(*no_result, reapi::ExecuteResponse());
  EXPECT_FALSE(Cached(no_result));
}

TEST_F(ResultRecorderTest, NonZeroExitsAreKeptWhenConfigured) {
  ResultRecorder recorder(&cache_, /*cache_nonzero_exit=*/true);
  auto failed = Executed("exit 1");
  recorder.Record(*failed, Ran(1));
  ASSERT_TRUE(Cached(failed));
  EXPECT_EQ(cache_.Get("main", failed->params.action_digest)->exit_code(), 1);
}

TEST_F(ResultRecorderTest, AResultNamingAMalformedDigestIsNotKeptAndNothingBreaks) {
  ResultRecorder recorder(&cache_, false);
  auto e = Executed("bad");
  reapi::ExecuteResponse r = Ran(0);
  auto* f = r.mutable_result()->add_output_files();
  f->set_path("out");
  f->mutable_digest()->set_hash("not a digest");
  recorder.Record(*e, r);  // Logged, not thrown or stored.
  EXPECT_FALSE(Cached(e));
  ResultRecorder without_storage(nullptr, false);
  without_storage.Record(*Executed("x"), Ran(0));
}

}  // namespace
}  // namespace kfarm
