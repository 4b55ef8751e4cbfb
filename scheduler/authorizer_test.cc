#include "scheduler/authorizer.h"

#include <google/protobuf/text_format.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

config::AuthConfig Parse(const std::string& text) {
  config::AuthConfig c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

CallerCredentials Bearer(const std::string& token) {
  CallerCredentials c;
  c.authorization = "Bearer " + token;
  return c;
}

CallerCredentials Cert(const std::string& name) {
  CallerCredentials c;
  c.cert_verified = true;
  c.cert_common_name = name;
  return c;
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = Authorizer::Create(Parse(
        "tokens { principal: 'ci' token_sha256: '" + TokenHash("ci-secret") + "' }\n"
        "tokens { principal: 'dev' token_sha256: '" + TokenHash("dev-secret") + "' }\n"
        "grants { principal: 'ci' permissions: [READ, WRITE, EXECUTE, AC_WRITE] }\n"
        "grants { principal: 'dev' instance_prefix: 'team/a' permissions: [READ, WRITE, EXECUTE] }\n"
        "grants { principal: 'builder-7' permissions: [READ] }\n"
        "grants { principal: '*' instance_prefix: 'public' permissions: [READ] }\n"));
    ASSERT_TRUE(a.ok()) << a.status();
    auth_ = std::move(*a);
  }
  std::unique_ptr<Authorizer> auth_;
};

TEST_F(AuthorizerTest, NoCredentialsIsUnauthenticated) {
  absl::Status s = auth_->Check(CallerCredentials(), config::READ, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("authorization: Bearer"));
}

TEST_F(AuthorizerTest, AWrongTokenIsUnauthenticatedAndNeverEchoed) {
  absl::Status s = auth_->Check(Bearer("guess-123"), config::READ, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), Not(HasSubstr("guess-123")));
  CallerCredentials basic;
  basic.authorization = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(auth_->Check(basic, config::READ, "").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, GrantsArePerPermission) {
  EXPECT_TRUE(auth_->Check(Bearer("ci-secret"), config::AC_WRITE, "").ok());
  absl::Status s = auth_->Check(Bearer("dev-secret"), config::AC_WRITE, "team/a");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("\"dev\""));
  EXPECT_THAT(s.message(), HasSubstr("ac-write"));
  EXPECT_THAT(s.message(), HasSubstr("\"team/a\""));
  EXPECT_THAT(s.message(), Not(HasSubstr("dev-secret")));
  EXPECT_EQ(auth_->Check(Bearer("ci-secret"), config::ADMIN, "").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizerStatusTest, TheStatusPageNeedsStatusOrAdmin) {
  auto a = Authorizer::Create(Parse(
      "tokens { principal: 'ci' token_sha256: '" + TokenHash("ci-secret") + "' }\n"
      "tokens { principal: 'ops' token_sha256: '" + TokenHash("ops-secret") + "' }\n"
      "tokens { principal: 'viewer' token_sha256: '" + TokenHash("view-secret") + "' }\n"
      "grants { principal: 'ci' permissions: [READ, WRITE, EXECUTE, AC_WRITE] }\n"
      "grants { principal: 'ops' permissions: [ADMIN] }\n"
      "grants { principal: 'viewer' permissions: [STATUS] }\n"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE((*a)->CheckAnyInstance(Bearer("view-secret"), config::STATUS).ok());
  EXPECT_TRUE((*a)->CheckAnyInstance(Bearer("ops-secret"), config::STATUS).ok());
  absl::Status s = (*a)->CheckAnyInstance(Bearer("ci-secret"), config::STATUS);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("status permission"));
  // Status grants nothing else.
  EXPECT_EQ((*a)->CheckAnyInstance(Bearer("view-secret"), config::ADMIN).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ((*a)->Check(Bearer("view-secret"), config::READ, "").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthorizerTest, PrefixesMatchAtPathBoundaries) {
  EXPECT_TRUE(auth_->Check(Bearer("dev-secret"), config::EXECUTE, "team/a").ok());
  EXPECT_TRUE(auth_->Check(Bearer("dev-secret"), config::EXECUTE, "team/a/x86").ok());
  EXPECT_EQ(auth_->Check(Bearer("dev-secret"), config::EXECUTE, "team/ab").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->Check(Bearer("dev-secret"), config::READ, "").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthorizerTest, WildcardGrantsCoverEveryAuthenticatedPrincipalOnly) {
  EXPECT_TRUE(auth_->Check(Bearer("dev-secret"), config::READ, "public").ok());
  EXPECT_EQ(auth_->Check(CallerCredentials(), config::READ, "public").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, VerifiedCertificatesNameTheirPrincipal) {
  EXPECT_TRUE(auth_->Check(Cert("builder-7"), config::READ, "any").ok());
  EXPECT_EQ(auth_->Check(Cert("builder-7"), config::WRITE, "any").code(),
            absl::StatusCode::kPermissionDenied);
  CallerCredentials unverified = Cert("builder-7");
  unverified.cert_verified = false;
  EXPECT_EQ(auth_->Check(unverified, config::READ, "any").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, AnyInstanceChecksFindAGrantAnywhere) {
  CallerCredentials dev = Bearer("dev-secret");
  EXPECT_EQ(auth_->Check(dev, config::EXECUTE, "").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(auth_->CheckAnyInstance(dev, config::EXECUTE).ok());
  absl::Status s = auth_->CheckAnyInstance(dev, config::ADMIN);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("admin permission on any instance"));
}

TEST(AuthorizerConfigTest, WithoutTokensOrGrantsEveryoneIsTheLocalPrincipal) {
  auto a = Authorizer::Create(config::AuthConfig());
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE((*a)->open());
  EXPECT_TRUE((*a)->Check(CallerCredentials(), config::AC_WRITE, "x").ok());
  EXPECT_TRUE((*a)->Check(CallerCredentials(), config::ADMIN, "").ok());
}

TEST(AuthorizerConfigTest, BadConfigsNameTheField) {
  auto plain = Authorizer::Create(Parse("tokens { principal: 'ci' token_sha256: 'hunter2' }"));
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plain.status().message(), HasSubstr("auth.tokens[0].token_sha256"));
  EXPECT_THAT(plain.status().message(), Not(HasSubstr("hunter2")));
  auto empty = Authorizer::Create(Parse("grants { principal: 'ci' }"));
  EXPECT_THAT(empty.status().message(), HasSubstr("auth.grants[0] grants no permission"));
  auto slash = Authorizer::Create(
      Parse("grants { principal: 'ci' instance_prefix: 'a/' permissions: [READ] }"));
  EXPECT_THAT(slash.status().message(), HasSubstr("ends in '/'"));
  std::string h = TokenHash("t");
  auto twice = Authorizer::Create(Parse("tokens { principal: 'a' token_sha256: '" + h +
                                        "' } tokens { principal: 'b' token_sha256: '" + h + "' }"));
  EXPECT_THAT(twice.status().message(), HasSubstr("auth.tokens[1]"));
}

TEST(AuthorizerConfigTest, AnonymousGetsOnlyItsOwnGrantsAndWrongCredentialsStayWrong) {
  auto a = Authorizer::Create(Parse(
      "tokens { principal: 'ci' token_sha256: '" + TokenHash("ci-secret") + "' }\n"
      "grants { principal: 'anonymous' instance_prefix: 'public' permissions: [READ] }\n"
      "grants { principal: '*' permissions: [WRITE] }\n"));
  ASSERT_TRUE(a.ok()) << a.status();
  const CallerCredentials none;
  EXPECT_EQ(*(*a)->PrincipalOf(none), "anonymous");
  EXPECT_TRUE((*a)->Check(none, config::READ, "public/x").ok());
  absl::Status elsewhere = (*a)->Check(none, config::READ, "team");
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(elsewhere.message(), HasSubstr("\"anonymous\" lacks the read permission"));
  // "*" means any authenticated principal, not anonymous callers.
  EXPECT_EQ((*a)->Check(none, config::WRITE, "public").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE((*a)->Check(Bearer("ci-secret"), config::WRITE, "public").ok());
  // A wrong token is not quietly treated as no token.
  EXPECT_EQ((*a)->Check(Bearer("guess"), config::READ, "public").code(),
            absl::StatusCode::kUnauthenticated);

  auto reserved = Authorizer::Create(
      Parse("tokens { principal: 'anonymous' token_sha256: '" + TokenHash("t") + "' }"));
  EXPECT_EQ(reserved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reserved.status().message(), HasSubstr("auth.tokens[0].principal \"anonymous\""));
}

TEST(WorkerGateTest, TokensAdmitWorkersAndNothingElseDoes) {
  config::WorkerListenerConfig c;
  c.add_token_sha256(TokenHash("worker-secret"));
  auto gate = WorkerGate::Create(c, /*open=*/true);
  ASSERT_TRUE(gate.ok());
  EXPECT_FALSE(gate->open());
  EXPECT_TRUE(gate->Check(Bearer("worker-secret")).ok());
  EXPECT_EQ(gate->Check(Bearer("client-secret")).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(gate->Check(CallerCredentials()).code(), absl::StatusCode::kUnauthenticated);
  // A client certificate is no worker credential unless the worker listener verified it.
  EXPECT_EQ(gate->Check(Cert("someone")).code(), absl::StatusCode::kUnauthenticated);
}

TEST(WorkerGateTest, TheWorkerListenersCertificatesAdmitWorkers) {
  config::WorkerListenerConfig c;
  c.set_listen_address("0.0.0.0:0");
  c.mutable_tls()->set_client_ca_file("/etc/kfarm/worker-ca.pem");
  c.mutable_tls()->set_require_client_cert(true);
  auto gate = WorkerGate::Create(c, /*open=*/false);
  ASSERT_TRUE(gate.ok());
  EXPECT_TRUE(gate->Check(Cert("worker-1")).ok());
  EXPECT_EQ(gate->Check(CallerCredentials()).code(), absl::StatusCode::kUnauthenticated);
}

TEST(WorkerGateTest, OpenOnlyWhenNothingIsConfigured) {
  EXPECT_TRUE(WorkerGate::Create(config::WorkerListenerConfig(), true)->open());
  EXPECT_FALSE(WorkerGate::Create(config::WorkerListenerConfig(), false)->open());
}

}  // namespace
}  // namespace kfarm
