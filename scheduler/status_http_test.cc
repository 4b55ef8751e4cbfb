// The status pages' HTTP side: permissions (bearer and basic), errors, and an operation the
// action cache answered, described from storage.
#include "scheduler/status_http.h"

#include "absl/strings/escaping.h"
#include "common/memory_blob_access.h"
#include "common/testing/http_get.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/cached_operation.h"
#include "scheduler/status_page.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

config::AuthConfig Auth() {
  config::AuthConfig c;
  auto* t = c.add_tokens();
  t->set_principal("viewer");
  t->set_token_sha256(TokenHash("view-secret"));
  t = c.add_tokens();
  t->set_principal("ci");
  t->set_token_sha256(TokenHash("ci-secret"));
  auto* g = c.add_grants();
  g->set_principal("viewer");
  g->add_permissions(config::STATUS);
  g = c.add_grants();
  g->set_principal("ci");
  g->add_permissions(config::READ);
  return c;
}

std::string Basic(const std::string& user_password) {
  return "Authorization: Basic " + absl::Base64Escape(user_password) + "\r\n";
}

class StatusHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = Authorizer::Create(Auth());
    ASSERT_TRUE(a.ok()) << a.status();
    auth_ = std::move(*a);
    std::map<std::string, HttpServer::Handler> handlers;
    AddStatusPages(&source_, auth_.get(), handlers);
    auto s = HttpServer::Start("127.0.0.1:0", handlers);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  int port() const { return server_->port(); }

  MemoryBlobAccess cas_{1 << 20};
  MemoryBlobAccess results_{1 << 20};
  ActionCache cache_{&results_};
  StatusSource source_{nullptr, &cache_, &cas_};
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(StatusHttpTest, EveryPageNeedsTheStatusPermission) {
  for (const char* path : {"/", "/api/status", "/operation?name=x", "/api/operation?name=x"}) {
    HttpGot none = HttpGet(port(), path);
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(none.headers["WWW-Authenticate"], "Basic realm=\"kfarm scheduler\"") << path;
    EXPECT_EQ(HttpGet(port(), path, Basic("me:wrong")).status, 401) << path;
    HttpGot denied = HttpGet(port(), path, "Authorization: Bearer ci-secret\r\n");
    EXPECT_EQ(denied.status, 403) << path;
    EXPECT_THAT(denied.body, HasSubstr("lacks the status permission")) << path;
    EXPECT_THAT(denied.body, Not(HasSubstr("ci-secret"))) << path;
  }
  HttpGot page = HttpGet(port(), "/", Basic("anyone:view-secret"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<h2>Builds</h2>"));
  HttpGot json = HttpGet(port(), "/api/status", "Authorization: Bearer view-secret\r\n");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_THAT(json.body, HasSubstr("\"now\""));
}

TEST_F(StatusHttpTest, AskingForNoOrAnUnknownOperationIsNamed) {
  const std::string token = "Authorization: Bearer view-secret\r\n";
  HttpGot none = HttpGet(port(), "/operation", token);
  EXPECT_EQ(none.status, 400);
  EXPECT_THAT(none.body, HasSubstr("?name="));
  HttpGot unknown = HttpGet(port(), "/operation?name=operations%2F%3Cnope%3E", token);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("operations/&lt;nope&gt;"));  // Named, and escaped.
  const std::string gone = CachedOperationName("", Digest::Of("never cached"));
  HttpGot evicted = HttpGet(port(), "/api/operation?name=" + UrlEncode(gone), token);
  EXPECT_EQ(evicted.status, 404);
  EXPECT_THAT(evicted.body, HasSubstr(Digest::Of("never cached").ToString()));
}

TEST_F(StatusHttpTest, ACachedOperationIsToldFromStorage) {
  reapi::Command command;
  command.add_arguments("/usr/bin/echo");
  command.add_arguments("<hi>");
  command.add_output_paths("out.txt");
  const std::string command_bytes = command.SerializeAsString();
  reapi::Action action;
  Digest::Of(command_bytes).ToProto(action.mutable_command_digest());
  const std::string action_bytes = action.SerializeAsString();
  const Digest action_digest = Digest::Of(action_bytes);
  ASSERT_TRUE(cas_.Put(Digest::Of(command_bytes), command_bytes).ok());
  ASSERT_TRUE(cas_.Put(action_digest, action_bytes).ok());
  const std::string long_stdout(kMaxShownOutput + 10, 'x');
  ASSERT_TRUE(cas_.Put(Digest::Of(long_stdout), long_stdout).ok());
  reapi::ActionResult result;
  result.set_exit_code(0);
  result.set_stderr_raw("warning: <careful>");
  Digest::Of(long_stdout).ToProto(result.mutable_stdout_digest());
  result.mutable_execution_metadata()->set_worker("w9");
  ASSERT_TRUE(cache_.Put("", action_digest, result).ok());

  const std::string name = CachedOperationName("", action_digest);
  HttpGot page = HttpGet(port(), "/operation?name=" + UrlEncode(name),
                         "Authorization: Bearer view-secret\r\n");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("<pre id=\"command\">/usr/bin/echo &#39;&lt;hi&gt;&#39;</pre>"));
  EXPECT_THAT(page.body, HasSubstr("ok (cached)"));
  EXPECT_THAT(page.body, HasSubstr("w9"));
  EXPECT_THAT(page.body, HasSubstr("out.txt"));
  EXPECT_THAT(page.body, HasSubstr("<pre id=\"stderr\">warning: &lt;careful&gt;</pre>"));
  EXPECT_THAT(page.body, HasSubstr("cut at 64 KiB"));  // stdout, read from the CAS, cut.
  EXPECT_THAT(page.body, Not(HasSubstr("id=\"unavailable\"")));

  // Once the command is evicted, the page says so instead of failing.
  MemoryBlobAccess empty_cas(1 << 20);
  StatusSource forgetful(nullptr, &cache_, &empty_cas);
  auto d = forgetful.Operation(name);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->unavailable(), HasSubstr("the action " + action_digest.ToString() +
                                          " is no longer in the CAS"));
  EXPECT_THAT(d->unavailable(), HasSubstr("stdout " + Digest::Of(long_stdout).hex()));
}

TEST(HttpCredentialsTest, BasicCarriesTheTokenAsItsPassword) {
  EXPECT_EQ(*HttpCredentials("Basic " + absl::Base64Escape("user:tok:en")).authorization,
            "Bearer tok:en");
  EXPECT_EQ(*HttpCredentials("basic " + absl::Base64Escape("tok")).authorization, "Bearer tok");
  EXPECT_EQ(*HttpCredentials("Bearer abc").authorization, "Bearer abc");
  EXPECT_FALSE(HttpCredentials("").authorization.has_value());
}

}  // namespace
}  // namespace kfarm
