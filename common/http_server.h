// A small HTTP listener for operators, beside the gRPC ones: /metrics for Prometheus, health
// checks, status pages. civetweb (Debian's libcivetweb) does the HTTP; this maps exact paths to
// handlers that return a whole response. Handlers run on civetweb's threads, several at once.
#ifndef KFARM_COMMON_HTTP_SERVER_H_
#define KFARM_COMMON_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace kfarm {

struct HttpRequest {
  std::string path;
  std::string query;          // After '?', undecoded; "" if none.
  std::string authorization;  // The Authorization header; "" if none.

  // The query parameter `name`, URL-decoded; "" when absent.
  std::string Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Beyond the usual ones.
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on `address` (host:port; port 0 picks a free one) and serves `handlers`, each at
  // exactly its path; anything else is 404. Errors name the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           std::map<std::string, Handler> handlers);
  ~HttpServer();  // Stops listening and waits for the handlers running.

  int port() const { return port_; }

 private:
  HttpServer() = default;
  static int Dispatch(mg_connection* conn, void* self);

  std::map<std::string, Handler> handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

// Splits "host:port" for civetweb, which wants IPv6 hosts in brackets like gRPC does; "[::1]:0"
// and "127.0.0.1:0" pass through, a bare ":9090" listens on every address.
std::string CivetListeningPort(const std::string& address);

}  // namespace kfarm

#endif  // KFARM_COMMON_HTTP_SERVER_H_
