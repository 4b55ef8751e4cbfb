// What an operator relies on, against the real binaries: what /metrics says after a few actions
// (the scheduler's and a worker's), the health endpoints, and a worker's shutdown.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
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

class OperatorsTest : public ExecutionTest {
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

  // Polls the scheduler's metrics (up to 30 s) until `key` has `value`.
  bool AwaitMetric(const std::string& key, double value) {
    for (int i = 0; i < 300; ++i) {
      if (ParseMetrics(HttpGet(scheduler_http_, "/metrics").body)[key] == value) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  int scheduler_http_ = 0;
  int worker_http_ = 0;
};

TEST_F(OperatorsTest, SchedulerAndWorkerCountWhatTheFarmDid) {
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

// Runs `kfarm ARGS...` against the farm; its stdout, and the exit code in `*code`.
std::string KfarmCli(const std::string& address, const std::string& args, int* code) {
  const std::string cmd = std::string(KFARM_BIN_DIR) + "/kfarm --remote=grpc://" + address + " " + args;
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  *code = ::pclose(p);
  return out;
}

// The status page, its JSON and `kfarm status` tell the same story of a build, and nothing a
// client wrote reaches the page unescaped.
TEST_F(OperatorsTest, TheStatusPageShowsEachBuildAndEscapesWhatClientsWrote) {
  const std::string build = "build-<b>1</b>";
  ExecuteOptions o;
  o.invocation_id = build;
  ActionSpec hostile = Shell("echo '<script>alert(1)</script>'; echo 'err <i>' >&2; exit 4");
  absl::StatusOr<reapi::ExecuteResponse> r = Run(hostile, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->result().exit_code(), 4);
  ASSERT_TRUE(Run(Shell("echo fine"), o).ok());

  HttpGot page = HttpGet(scheduler_http_, "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(page.body, ::testing::HasSubstr("build-&lt;b&gt;1&lt;/b&gt;"));
  EXPECT_THAT(page.body, ::testing::HasSubstr("exit 4"));
  EXPECT_THAT(page.body, ::testing::HasSubstr("2/2"));  // Both of the build's actions done.
  EXPECT_THAT(page.body, ::testing::Not(::testing::HasSubstr("<script>")));
  EXPECT_THAT(page.body, ::testing::Not(::testing::HasSubstr("<b>1")));
  EXPECT_THAT(page.body, ::testing::HasSubstr("data-worker=\"w0\""));

  // The failed operation, found through `kfarm status`.
  int code = -1;
  const std::string overview = KfarmCli(farm_->scheduler().address(), "status", &code);
  EXPECT_EQ(code, 0) << overview;
  EXPECT_THAT(overview, ::testing::HasSubstr("WORKERS\nWORKER"));
  EXPECT_THAT(overview, ::testing::HasSubstr(build + "  "));
  const size_t exit4 = overview.find("exit 4");
  ASSERT_NE(exit4, std::string::npos) << overview;
  const size_t line = overview.rfind('\n', exit4) + 1;
  const std::string name = "operations/" + overview.substr(line, overview.find(' ', line) - line);

  HttpGot op = HttpGet(scheduler_http_, "/operation?name=" + name);
  ASSERT_EQ(op.status, 200) << op.body;
  EXPECT_THAT(op.body, ::testing::HasSubstr("<pre id=\"stdout\">&lt;script&gt;alert(1)&lt;/script&gt;\n</pre>"));
  EXPECT_THAT(op.body, ::testing::HasSubstr("<pre id=\"stderr\">err &lt;i&gt;\n</pre>"));
  EXPECT_THAT(op.body, ::testing::HasSubstr("/bin/sh -c &#39;echo &#39;\\&#39;&#39;&lt;script&gt;"));
  for (const char* phase : {"queued", "input fetch", "execution", "output upload"}) {
    EXPECT_THAT(op.body, ::testing::HasSubstr(absl::StrCat("data-phase=\"", phase, "\"")));
  }
  EXPECT_THAT(op.body, ::testing::Not(::testing::HasSubstr("<script>")));

  const std::string story = KfarmCli(farm_->scheduler().address(), "status " + name, &code);
  EXPECT_EQ(code, 0) << story;
  EXPECT_THAT(story, ::testing::HasSubstr("result:   exit 4"));
  EXPECT_THAT(story, ::testing::HasSubstr("stdout:\n<script>alert(1)</script>"));
  EXPECT_THAT(story, ::testing::HasSubstr("execution: "));

  HttpGot json = HttpGet(scheduler_http_, "/api/status");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_THAT(json.body, ::testing::HasSubstr("\"invocation_id\":\"build-"));

  const std::string unknown = KfarmCli(farm_->scheduler().address(), "status operations/nope 2>&1", &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(unknown, ::testing::HasSubstr("operations/nope"));
}

// SIGTERM drains a worker: it takes nothing new, finishes what it runs, and exits with 0.
TEST_F(OperatorsTest, SigtermDrainsAWorkerThenItExits) {
  auto first = StartAndAwaitExecuting(Prepare(Shell("sleep 1; echo finished > out", {"out"})).digest);
  farm_->Signal("w0", SIGTERM);
  ASSERT_TRUE(AwaitMetric("kfarm_workers{state=\"draining\"}", 1));
  EXPECT_EQ(HttpGet(worker_http_, "/readyz").status, 503);
  EXPECT_EQ(HttpGet(worker_http_, "/healthz").status, 200);

  // One of its two slots is free, but a new action waits: the worker is leaving.
  auto second = std::async(std::launch::async, [this] { return Run(Shell("echo second")); });
  ASSERT_TRUE(AwaitMetric("kfarm_queue_actions{instance=\"\",platform=\"(none)\"}", 1));

  absl::StatusOr<reapi::ExecuteResponse> r = first.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  EXPECT_EQ(r->result().exit_code(), 0);
  ASSERT_EQ(r->result().output_files_size(), 1);
  EXPECT_EQ(Blob(r->result().output_files(0).digest()), "finished\n");
  EXPECT_EQ(r->result().execution_metadata().worker(), "w0");

  const int status = farm_->Wait("w0");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ParseMetrics(HttpGet(scheduler_http_, "/metrics").body)
                ["kfarm_queue_actions{instance=\"\",platform=\"(none)\"}"],
            1);  // Never given to the leaving worker.
  second.wait();  // Fails once no worker is left to run it; not this test's concern.
}

// SIGTERM stops the scheduler: it takes no new calls, the streams it serves end with a status
// clients retry on (not a hang), and it exits 0.
TEST_F(OperatorsTest, SigtermStopsTheSchedulerAndEndsItsStreams) {
  auto running = ExecuteUntilExecuting(Prepare(Shell("sleep 60")).digest);
  const absl::Time start = absl::Now();
  const int status = farm_->scheduler().Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  while (running->reader->Read(&running->op)) {
  }
  const grpc::Status ended = running->reader->Finish();
  EXPECT_TRUE(ended.error_code() == grpc::StatusCode::UNAVAILABLE ||
              ended.error_code() == grpc::StatusCode::CANCELLED)
      << ended.error_code() << " " << ended.error_message();
  // Streams get a second to finish, and the HTTP listener up to two to stop (civetweb 1.15).
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_EQ(HttpGet(scheduler_http_, "/healthz").status, 0);  // Gone.
}

}  // namespace
}  // namespace kfarm
