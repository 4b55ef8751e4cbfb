// The farm's operators' listeners against the real binaries: what /metrics says after a few
// actions (the scheduler's and a worker's), and the health endpoints.
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "common/testing/http_get.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/execution_fixture.h"

namespace kfarm {
namespace {

int ReadPort(const std::string& path) {
  std::string text;
  std::getline(std::ifstream(path), text);
  int port = 0;
  return absl::SimpleAtoi(text, &port) ? port : 0;
}

class MetricsTest : public ExecutionTest {
 protected:
  void SetUp() override {
    StartFarm(1, 2, "bubblewrap", "",
              {"--http_listen=127.0.0.1:0", "--http_port_file=" + dir_.path() + "/sched.http"},
              {"--http_listen=127.0.0.1:0", "--http_port_file=" + dir_.path() + "/w0.http"});
    scheduler_http_ = ReadPort(dir_.path() + "/sched.http");
    worker_http_ = ReadPort(dir_.path() + "/w0.http");
  }
  std::map<std::string, double> Scrape(int port) {
    HttpGot got = HttpGet(port, "/metrics");
    EXPECT_EQ(got.status, 200) << got.body;
    EXPECT_THAT(got.content_type, ::testing::StartsWith("text/plain; version=0.0.4"));
    return ParseMetrics(got.body);
  }

  int scheduler_http_ = 0;
  int worker_http_ = 0;
};

TEST_F(MetricsTest, SchedulerAndWorkerCountWhatTheFarmDid) {
  ASSERT_GT(scheduler_http_, 0);
  ASSERT_GT(worker_http_, 0);
  ASSERT_TRUE(Run(Shell("echo one > out", {"out"})).ok());
  ActionSpec reads = Shell("cat in.txt > out", {"out"});
  reads.input_root = UploadDir({{"in.txt", "an input the worker fetches"}});
  ASSERT_TRUE(Run(reads).ok());
  ASSERT_TRUE(Run(Shell("exit 3")).ok());
  ASSERT_TRUE(Run(Shell("echo one > out", {"out"})).ok());  // A cache hit.

  auto s = Scrape(scheduler_http_);
  // The warm-up action of StartFarm, the three run here, and the failing one's exit code.
  EXPECT_GE(s["kfarm_execution_results_total{exit_code=\"0\",status=\"OK\"}"], 3);
  EXPECT_EQ(s["kfarm_execution_results_total{exit_code=\"3\",status=\"OK\"}"], 1);
  EXPECT_GE(s["kfarm_execution_queued_seconds_count"], 4);
  EXPECT_GE(s["kfarm_execution_executing_seconds_count"], 4);
  EXPECT_GE(s["kfarm_blob_access_operations_total{operation=\"read\",outcome=\"ok\",store=\"ac\"}"],
            1);  // The hit.
  EXPECT_GE(
      s["kfarm_blob_access_operations_total{operation=\"read\",outcome=\"not_found\",store=\"ac\"}"],
      3);  // The misses.
  EXPECT_GT(s["kfarm_blob_access_operations_total{operation=\"write\",outcome=\"ok\",store=\"cas\"}"],
            0);
  EXPECT_GT(s["kfarm_blob_access_bytes_total{operation=\"write\",store=\"cas\"}"], 0);
  EXPECT_GT(s["kfarm_store_blobs{store=\"cas\"}"], 0);
  EXPECT_GT(s["kfarm_store_bytes{store=\"ac\"}"], 0);
  EXPECT_EQ(s["kfarm_workers{state=\"serving\"}"], 1);
  EXPECT_EQ(s["kfarm_worker_slots{state=\"idle\"}"], 2);
  EXPECT_EQ(s["kfarm_executing_actions"], 0);

  auto w = Scrape(worker_http_);
  EXPECT_GE(w["kfarm_worker_actions_total{status=\"OK\"}"], 4);
  EXPECT_GE(w["kfarm_worker_execution_seconds_count"], 4);
  EXPECT_GT(w["kfarm_worker_execution_seconds_sum"], 0);
  EXPECT_GE(w["kfarm_worker_sandbox_setup_seconds_count"], 1);  // A kept-alive sandbox started.
  EXPECT_GT(w["kfarm_worker_output_bytes_total"], 0);
  EXPECT_EQ(w["kfarm_worker_cache_lookups_total{result=\"miss\"}"], 1);
  EXPECT_EQ(w["kfarm_worker_input_fetched_bytes_total"], 27);

  for (int port : {scheduler_http_, worker_http_}) {
    EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
    EXPECT_EQ(HttpGet(port, "/readyz").status, 200);
  }
}

}  // namespace
}  // namespace kfarm
