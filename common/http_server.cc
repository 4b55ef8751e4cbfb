#include "common/http_server.h"

#include <civetweb.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

std::once_flag civetweb_init;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

std::string HttpRequest::Param(const std::string& name) const {
  // A decoded value is never longer than its encoding.
  std::string out(query.size() + 1, '\0');
  const int n = mg_get_var(query.data(), query.size(), name.c_str(), out.data(), out.size());
  if (n < 0) return "";
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string CivetListeningPort(const std::string& address) {
  if (!address.empty() && address[0] == ':') return address.substr(1);
  return address;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::map<std::string, Handler> handlers) {
  std::call_once(civetweb_init, [] { mg_init_library(0); });
  auto server = std::unique_ptr<HttpServer>(new HttpServer());
  server->handlers_ = std::move(handlers);
  const std::string ports = CivetListeningPort(address);
  // Few threads: scrapes and status pages are rare, and each answers from memory.
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "4",
                           "request_timeout_ms", "10000", nullptr};
  mg_callbacks callbacks{};
  server->ctx_ = mg_start(&callbacks, server.get(), options);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address,
                                               " (in use, or not an address of this host)"));
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Dispatch, server.get());
  mg_server_port listening[4];
  const int n = mg_get_server_ports(server->ctx_, 4, listening);
  if (n < 1) return absl::UnavailableError(absl::StrCat("HTTP on ", address, " has no port"));
  server->port_ = listening[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.path = info->local_uri != nullptr ? info->local_uri : "";
  req.query = info->query_string != nullptr ? info->query_string : "";
  if (const char* auth = mg_get_header(conn, "Authorization")) req.authorization = auth;
  HttpResponse resp;
  auto it = server->handlers_.find(req.path);
  if (it == server->handlers_.end()) {
    resp.status = 404;
    resp.body = absl::StrCat("no page at ", req.path, "\n");
  } else {
    resp = it->second(req);
  }
  std::string head = absl::StrCat(
      "HTTP/1.1 ", resp.status, " ", Reason(resp.status), "\r\nContent-Type: ", resp.content_type,
      "\r\nContent-Length: ", resp.body.size(),
      "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
  for (const auto& [name, value] : resp.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
  absl::StrAppend(&head, "Connection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

}  // namespace kfarm
