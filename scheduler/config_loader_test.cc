#include "scheduler/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/storage.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

absl::Status Check(const std::string& text) {
  auto c = ParseSchedulerConfig(text, "farm.conf");
  if (!c.ok()) return c.status();
  return CheckSchedulerConfig(WithDefaults(*c));
}

TEST(ConfigLoaderTest, ParsesAndAcceptsTheDefaults) {
  auto c = ParseSchedulerConfig("listen_address: \"127.0.0.1:0\"\nexecution { max_timeout_seconds: 60 default_timeout_seconds: 30 }\n", "farm.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->execution().max_timeout_seconds(), 60);
  EXPECT_TRUE(CheckSchedulerConfig(WithDefaults(*c)).ok());
  EXPECT_TRUE(Check("").ok());
}

TEST(ConfigLoaderTest, SyntaxErrorsNameTheFileLineAndColumn) {
  absl::Status s = Check("listen_address: \"x\"\nexecution {\n  max_timeout_secs: 3\n}\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("farm.conf:3:"));
  EXPECT_THAT(s.message(), HasSubstr("max_timeout_secs"));
}

TEST(ConfigLoaderTest, OutOfRangeValuesNameTheFieldAndValue) {
  // 4 GiB does not fit gRPC's int message size once framing is added.
  absl::Status s = Check("max_batch_total_size_bytes: 4294967296");
  EXPECT_THAT(s.message(), HasSubstr("max_batch_total_size_bytes = 4294967296 is out of range"));
  s = Check("execution { heartbeat_interval_ms: 9223372036854775807 }");
  EXPECT_THAT(s.message(), HasSubstr("execution.heartbeat_interval_ms = 9223372036854775807"));
  s = Check("execution { lost_worker_grace_ms: 9223372036854775807 }");
  EXPECT_THAT(s.message(), HasSubstr("execution.lost_worker_grace_ms = 9223372036854775807"));
  s = Check("execution { max_timeout_seconds: 60 default_timeout_seconds: 120 }");
  EXPECT_THAT(s.message(), HasSubstr("execution.default_timeout_seconds = 120"));
  EXPECT_THAT(s.message(), HasSubstr("at most max_timeout_seconds"));
  s = Check("execution { max_input_tree_depth: 1000000 }");
  EXPECT_THAT(s.message(), HasSubstr("execution.max_input_tree_depth = 1000000"));
  s = Check("execution { max_worker_deaths: 2000000000 }");
  EXPECT_THAT(s.message(), HasSubstr("execution.max_worker_deaths"));
  s = Check("tls { cert_file: \"a\" key_file: \"b\" reload_interval_seconds: -5 }");
  EXPECT_THAT(s.message(), HasSubstr("tls.reload_interval_seconds = -5"));
}

TEST(ConfigLoaderTest, TlsSettingsThatCannotWorkAreRefused) {
  EXPECT_THAT(Check("tls { cert_file: \"server.pem\" }").message(),
              HasSubstr("tls.cert_file and tls.key_file go together"));
  EXPECT_THAT(Check("tls { client_ca_file: \"ca.pem\" }").message(),
              HasSubstr("client certificates are checked only over TLS"));
  EXPECT_THAT(
      Check("tls { cert_file: \"s\" key_file: \"k\" require_client_cert: true }").message(),
      HasSubstr("tls.require_client_cert needs tls.client_ca_file"));
  EXPECT_THAT(Check("worker_listener { tls { cert_file: \"s\" key_file: \"k\" } }").message(),
              HasSubstr("worker_listener.listen_address is empty"));
  EXPECT_TRUE(Check("worker_listener { listen_address: \"127.0.0.1:0\" tls { cert_file: \"s\" "
                    "key_file: \"k\" client_ca_file: \"ca\" require_client_cert: true } }")
                  .ok());
}

}  // namespace
}  // namespace kfarm
