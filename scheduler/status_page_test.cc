#include "scheduler/status_page.h"

#include <google/protobuf/util/time_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;

// What a hostile client might put in every field it controls.
const char kHostile[] = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;";

google::protobuf::Timestamp At(int64_t seconds) { return TimeUtil::SecondsToTimestamp(seconds); }

status::StatusReport Report() {
  status::StatusReport r;
  *r.mutable_now() = At(1'800'000'100);
  *r.mutable_started() = At(1'800'000'000);
  auto* q = r.add_queues();
  q->set_instance_name(kHostile);
  q->set_platform(kHostile);
  q->set_queued(3);
  auto* b = r.add_builds();
  b->set_invocation_id(kHostile);
  b->set_tool(kHostile);
  b->set_cached(2);
  b->set_submitted(6);
  b->set_succeeded(3);
  b->set_failed(1);
  b->set_executing(2);
  *b->mutable_first_seen() = At(1'800'000'040);
  auto* w = r.add_workers();
  w->set_id(kHostile);
  w->set_slots(2);
  w->set_connected(true);
  w->set_draining(true);
  auto* a = w->add_running();
  a->set_operation("operations/abc");
  a->set_summary(kHostile);
  *a->mutable_started() = At(1'800'000'090);
  auto* op = r.add_recent();
  op->set_name("operations/\"><b>x");
  op->set_invocation_id(kHostile);
  op->set_summary(kHostile);
  op->set_stage("COMPLETED");
  op->set_exit_code(2);
  *op->mutable_finished() = At(1'800'000'099);
  return r;
}

TEST(StatusPageTest, EscapesEverythingAClientWrote) {
  const std::string page = RenderStatusPage(Report());
  EXPECT_THAT(page, Not(HasSubstr("<script>")));
  EXPECT_THAT(page, Not(HasSubstr("<img")));
  EXPECT_THAT(page, Not(HasSubstr("<b>x")));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;"));
  EXPECT_THAT(page, HasSubstr("&amp;amp;"));
  // The operation's name is a query value: encoded, then escaped.
  EXPECT_THAT(page, HasSubstr("/operation?name=operations%2F%22%3E%3Cb%3Ex"));
}

TEST(StatusPageTest, ShowsTheQueueBuildsWorkersAndOperations) {
  const std::string page = RenderStatusPage(Report());
  EXPECT_THAT(page, HasSubstr("<table id=\"builds\">"));
  EXPECT_THAT(page, HasSubstr("6/8"));  // 2 cached, 3 succeeded, 1 failed of 2 + 6 submitted.
  EXPECT_THAT(page, HasSubstr("draining"));
  EXPECT_THAT(page, HasSubstr("1/2"));  // One of two slots busy.
  EXPECT_THAT(page, HasSubstr("10.0 s"));  // The running action's age.
  EXPECT_THAT(page, HasSubstr("exit 2"));
  EXPECT_THAT(page, HasSubstr("1m 00s ago"));  // The build's start.
  EXPECT_THAT(page, HasSubstr("up 1m 40s"));
}

TEST(StatusPageTest, TheOperationPageShowsCommandOutputAndTimeline) {
  status::OperationDetail d;
  d.mutable_summary()->set_name("operations/abc");
  d.mutable_summary()->set_stage("COMPLETED");
  d.add_arguments("/bin/sh");
  d.add_arguments("-c");
  d.add_arguments(std::string("echo '") + kHostile);
  d.set_stdout(std::string("out ") + kHostile + "\x01");
  d.set_stderr("warning: x");
  d.set_stderr_truncated(true);
  auto* m = d.mutable_metadata();
  *m->mutable_queued_timestamp() = At(100);
  *m->mutable_worker_start_timestamp() = At(102);
  *m->mutable_input_fetch_start_timestamp() = At(102);
  *m->mutable_input_fetch_completed_timestamp() = At(103);
  *m->mutable_execution_start_timestamp() = At(103);
  *m->mutable_execution_completed_timestamp() = At(109);
  *m->mutable_output_upload_start_timestamp() = At(109);
  *m->mutable_output_upload_completed_timestamp() = At(110);
  *m->mutable_worker_completed_timestamp() = At(110);
  const std::string page = RenderOperationPage(d, At(200));
  EXPECT_THAT(page, Not(HasSubstr("<script>")));
  EXPECT_THAT(page, Not(HasSubstr("<img")));
  EXPECT_THAT(page, Not(HasSubstr("\x01")));
  // Quoted for a shell: the single quote closes, escapes and reopens.
  EXPECT_THAT(page, HasSubstr("/bin/sh -c &#39;echo &#39;\\&#39;&#39;&lt;script&gt;"));
  EXPECT_THAT(page, HasSubstr("<pre id=\"stdout\">out &lt;script&gt;"));
  EXPECT_THAT(page, HasSubstr("cut at 64 KiB"));
  // Each phase with its duration, placed on the whole from queued (100) to done (110).
  EXPECT_THAT(page, HasSubstr("data-phase=\"queued\"><td>queued</td><td class=\"n\">2.0 s"));
  EXPECT_THAT(page, HasSubstr("data-phase=\"execution\"><td>execution</td><td class=\"n\">6.0 s"));
  EXPECT_THAT(page, HasSubstr("left:30.00%;width:max(60.00%,1px)"));
  EXPECT_THAT(page, HasSubstr("data-phase=\"output upload\""));
}

TEST(StatusPageTest, AnUnfinishedPhaseRunsUntilNow) {
  status::OperationDetail d;
  d.mutable_summary()->set_stage("EXECUTING");
  *d.mutable_metadata()->mutable_queued_timestamp() = At(100);
  *d.mutable_metadata()->mutable_worker_start_timestamp() = At(104);
  const std::string page = RenderOperationPage(d, At(105));
  EXPECT_THAT(page, HasSubstr("4.0 s"));
  EXPECT_THAT(page, HasSubstr("http-equiv=\"refresh\""));  // Refreshes until it ends.
}

TEST(StatusPageTest, EscapingAndEncoding) {
  EXPECT_EQ(HtmlEscape("a<b>&\"'\n\t\x7f"), "a&lt;b&gt;&amp;&quot;&#39;\n\t\xef\xbf\xbd");
  EXPECT_EQ(UrlEncode("operations/a b+c~"), "operations%2Fa%20b%2Bc~");
}

}  // namespace
}  // namespace kfarm
