#include "common/http_server.h"

#include <atomic>
#include <thread>
#include <vector>

#include "common/testing/http_get.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

TEST(HttpServerTest, ServesExactPathsAndNothingElse) {
  std::atomic<int> calls{0};
  std::map<std::string, HttpServer::Handler> handlers;
  handlers["/metrics"] = [&](const HttpRequest& r) {
    ++calls;
    return HttpResponse{200, "text/plain; version=0.0.4", "up 1\nquery " + r.query + "\n"};
  };
  handlers["/readyz"] = [](const HttpRequest&) {
    return HttpResponse{503, "text/plain", "shutting down\n"};
  };
  auto server = HttpServer::Start("127.0.0.1:0", handlers);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  HttpGot got = HttpGet(port, "/metrics?x=1");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "up 1\nquery x=1\n");
  EXPECT_EQ(got.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(HttpGet(port, "/readyz").status, 503);
  got = HttpGet(port, "/metrics/more");
  EXPECT_EQ(got.status, 404);
  EXPECT_THAT(got.body, HasSubstr("/metrics/more"));
  EXPECT_EQ(HttpGet(port, "/").status, 404);

  // Scrapes from several clients at once each get their whole answer.
  std::vector<std::thread> clients;
  std::atomic<int> whole{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      if (HttpGet(port, "/metrics").body.rfind("up 1\n", 0) == 0) ++whole;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(whole, 8);
  EXPECT_EQ(calls, 9);

  server->reset();  // Stopped: nothing answers any more.
  EXPECT_EQ(HttpGet(port, "/metrics").status, 0);
}

TEST(HttpServerTest, DecodesParametersAndSendsExtraHeaders) {
  std::map<std::string, HttpServer::Handler> handlers;
  handlers["/page"] = [](const HttpRequest& r) {
    HttpResponse resp{401, "text/plain", "name=[" + r.Param("name") + "] missing=[" +
                                             r.Param("missing") + "] auth=[" + r.authorization + "]"};
    resp.headers.emplace_back("WWW-Authenticate", "Basic realm=\"kfarm\"");
    return resp;
  };
  auto server = HttpServer::Start("127.0.0.1:0", handlers);
  ASSERT_TRUE(server.ok()) << server.status();
  HttpGot got = HttpGet((*server)->port(), "/page?x=1&name=operations%2Fab%20c%3C",
                        "Authorization: Bearer t0k\r\n");
  EXPECT_EQ(got.status, 401);
  EXPECT_EQ(got.body, "name=[operations/ab c<] missing=[] auth=[Bearer t0k]");
  EXPECT_EQ(got.headers["WWW-Authenticate"], "Basic realm=\"kfarm\"");
}

TEST(HttpServerTest, AnAddressInUseIsNamed) {
  auto first = HttpServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpServer::Start(taken, {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(taken));
}

}  // namespace
}  // namespace kfarm
