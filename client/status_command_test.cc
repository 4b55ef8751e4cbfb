#include "client/status_command.h"

#include <google/protobuf/util/time_util.h>

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

TEST(StatusCommandTest, PrintsEachSectionAsAnAlignedTable) {
  status::StatusReport r;
  *r.mutable_now() = TimeUtil::SecondsToTimestamp(1000);
  *r.mutable_started() = TimeUtil::SecondsToTimestamp(700);
  r.set_running_total(2000);
  auto* q = r.add_queues();
  q->set_platform("OSFamily=linux");
  q->set_queued(1999);
  auto* w = r.add_workers();
  w->set_id("host-a-1");
  w->set_slots(4);
  w->set_connected(true);
  auto* a = w->add_running();
  a->set_summary("ld -r -o fs/ext4/ext4.ko");
  *a->mutable_started() = TimeUtil::SecondsToTimestamp(997);
  auto* b = r.add_builds();
  b->set_invocation_id("kfarm-modfinal-1");
  b->set_tool("kfarm 1");
  b->set_submitted(2001);
  b->set_succeeded(1);
  auto* op = r.add_running();
  op->set_name("operations/abc");
  op->set_stage("EXECUTING");
  op->set_worker("host-a-1");
  *op->mutable_queued() = TimeUtil::SecondsToTimestamp(990);
  std::ostringstream out;
  PrintStatus(r, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("scheduler up 5m 00s; 0 operations held, 2000 unfinished"));
  EXPECT_THAT(text, HasSubstr("\"\"        OSFamily=linux  1999"));  // Instance "" made visible.
  EXPECT_THAT(text, HasSubstr("host-a-1  ready  1/4"));
  EXPECT_THAT(text, HasSubstr("ld -r -o fs/ext4/ext4.ko (3.0 s)"));
  EXPECT_THAT(text, HasSubstr("kfarm-modfinal-1  kfarm 1  1/2001"));
  EXPECT_THAT(text, HasSubstr("RUNNING (the oldest 1 of 2000)"));
  EXPECT_THAT(text, HasSubstr("abc        -      executing  host-a-1  10.0 s ago"));
}

TEST(StatusCommandTest, PrintsAnOperationsStory) {
  status::OperationDetail d;
  d.mutable_summary()->set_name("operations/abc");
  d.mutable_summary()->set_stage("COMPLETED");
  d.mutable_summary()->set_exit_code(1);
  d.add_arguments("gcc");
  d.add_arguments("-c");
  d.set_stderr("error: x");
  auto* m = d.mutable_metadata();
  *m->mutable_execution_start_timestamp() = TimeUtil::MillisecondsToTimestamp(1000);
  *m->mutable_execution_completed_timestamp() = TimeUtil::MillisecondsToTimestamp(1250);
  *m->mutable_output_upload_start_timestamp() = TimeUtil::MillisecondsToTimestamp(1250);
  std::ostringstream out;
  PrintOperation(d, out);
  EXPECT_THAT(out.str(), HasSubstr("result:   exit 1"));
  EXPECT_THAT(out.str(), HasSubstr("command:\n  gcc -c\n"));
  EXPECT_THAT(out.str(), HasSubstr("execution: 250 ms"));
  EXPECT_THAT(out.str(), HasSubstr("output upload: not ended"));
  EXPECT_THAT(out.str(), HasSubstr("stderr:\nerror: x"));
}

}  // namespace
}  // namespace kfarm
