#include "scheduler/command_checks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

namespace reapi = build::bazel::remote::execution::v2;
using ::testing::HasSubstr;

reapi::Command Good() {
  reapi::Command c;
  c.add_arguments("/bin/cc");
  c.add_arguments("-c");
  auto* e = c.add_environment_variables();
  e->set_name("LANG");
  e->set_value("C");
  e = c.add_environment_variables();
  e->set_name("PATH");
  e->set_value("/bin");
  c.set_working_directory("src/sub");
  c.add_output_paths("a.o");
  c.add_output_paths("b/c.o");
  return c;
}

TEST(CommandChecksTest, ACanonicalCommandPasses) { EXPECT_TRUE(CheckCommand(Good()).ok()); }

void ExpectRefused(const reapi::Command& c, const std::string& words) {
  absl::Status s = CheckCommand(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << words;
  EXPECT_THAT(s.message(), HasSubstr(words));
}

TEST(CommandChecksTest, EachNonCanonicalFieldIsNamed) {
  reapi::Command c = Good();
  c.set_arguments(0, "");
  ExpectRefused(c, "Command.arguments[0], the program, is empty");

  c = Good();
  c.mutable_environment_variables(1)->set_name("LANG");
  ExpectRefused(c, "Command.environment_variables[1].name \"LANG\" is set twice");
  c = Good();
  c.mutable_environment_variables(1)->set_name("A");
  ExpectRefused(c, "is out of order");
  c = Good();
  c.mutable_environment_variables(0)->set_name("A=B");
  ExpectRefused(c, "is not a variable name");

  c = Good();
  c.set_working_directory("../up");
  ExpectRefused(c, "Command.working_directory \"../up\"");
  c = Good();
  c.set_working_directory("/abs");
  ExpectRefused(c, "is absolute");

  c = Good();
  c.add_output_paths("b/c.o");
  ExpectRefused(c, "Command.output_paths[2] \"b/c.o\" is listed twice");
  c = Good();
  c.add_output_paths("a");
  ExpectRefused(c, "Command.output_paths[2] \"a\" is out of order");
  c = Good();
  c.add_output_files("../escape");
  ExpectRefused(c, "Command.output_files[0] \"../escape\"");
  c = Good();
  c.add_output_directories("x//y");
  ExpectRefused(c, "Command.output_directories[0]");

  c = Good();
  auto* p = c.mutable_platform()->add_properties();
  p->set_name("OSFamily");
  p->set_value("linux");
  *c.mutable_platform()->add_properties() = *p;
  ExpectRefused(c, "Command.platform.properties[1] \"OSFamily\"=\"linux\" is listed twice");
}

TEST(CommandChecksTest, PlatformsSortByNameThenValue) {
  reapi::Platform p;
  for (auto [n, v] : {std::pair{"a", "2"}, std::pair{"a", "1"}}) {
    auto* prop = p.add_properties();
    prop->set_name(n);
    prop->set_value(v);
  }
  EXPECT_THAT(CheckPlatform(p, "Action.platform").message(),
              HasSubstr("Action.platform.properties[1] \"a\"=\"1\" is out of order"));
  std::swap(*p.mutable_properties(0), *p.mutable_properties(1));
  EXPECT_TRUE(CheckPlatform(p, "Action.platform").ok());
}

TEST(CommandChecksTest, TimeoutsThatWouldOverflowOrAreMalformedAreRefused) {
  const absl::Duration max = absl::Hours(4);
  google::protobuf::Duration d;
  d.set_seconds(90);
  d.set_nanos(500);
  auto ok = CheckTimeout(d, max, "Action.timeout");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, absl::Seconds(90) + absl::Nanoseconds(500));

  d.set_seconds(INT64_MAX);
  d.set_nanos(0);
  EXPECT_THAT(CheckTimeout(d, max, "Action.timeout").status().message(),
              HasSubstr("exceeds this server's maximum of 4h"));
  d.set_seconds(1);
  d.set_nanos(2000000000);
  EXPECT_THAT(CheckTimeout(d, max, "Action.timeout").status().message(),
              HasSubstr("is not a valid duration"));
  d.set_seconds(-5);
  d.set_nanos(0);
  EXPECT_FALSE(CheckTimeout(d, max, "Action.timeout").ok());
  d.set_seconds(4 * 3600);
  d.set_nanos(1);
  EXPECT_FALSE(CheckTimeout(d, max, "Action.timeout").ok());
}

}  // namespace
}  // namespace kfarm
