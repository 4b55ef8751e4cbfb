#include "scheduler/status_http.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "scheduler/status_page.h"

namespace kfarm {
namespace {

constexpr int kDefaultRecent = 100;
constexpr int kMaxRecent = 5000;

HttpResponse Html(int status, std::string body) {
  return HttpResponse{status, "text/html; charset=utf-8", std::move(body), {}};
}

HttpResponse Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  HttpResponse r{200, "application/json", "", {}};
  if (!google::protobuf::util::MessageToJsonString(m, &r.body, o).ok()) {
    return HttpResponse{500, "text/plain; charset=utf-8", "cannot render the status as JSON\n", {}};
  }
  r.body += "\n";
  return r;
}

// An error in the form the page was asked in.
HttpResponse Error(bool html, int status, absl::string_view message) {
  HttpResponse r = html ? Html(status, RenderErrorPage(status, message))
                        : HttpResponse{status, "text/plain; charset=utf-8",
                                       absl::StrCat(message, "\n"), {}};
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"kfarm scheduler\"");
  return r;
}

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kInvalidArgument: return 400;
    default: return 500;
  }
}

}  // namespace

CallerCredentials HttpCredentials(const std::string& authorization) {
  CallerCredentials c;
  if (authorization.empty()) return c;
  c.authorization = authorization;
  if (absl::StartsWithIgnoreCase(authorization, "basic ")) {
    std::string decoded;
    if (absl::Base64Unescape(absl::StripAsciiWhitespace(authorization.substr(6)), &decoded)) {
      const size_t colon = decoded.find(':');
      c.authorization = absl::StrCat("Bearer ", colon == std::string::npos
                                                    ? decoded
                                                    : decoded.substr(colon + 1));
    }
  }
  return c;
}

void AddStatusPages(StatusSource* source, const Authorizer* auth,
                    std::map<std::string, HttpServer::Handler>& handlers) {
  // Wraps a page: the permission first, then the page in HTML or JSON.
  auto page = [auth](bool html, auto render) {
    return [auth, html, render](const HttpRequest& req) -> HttpResponse {
      absl::Status allowed =
          auth->CheckAnyInstance(HttpCredentials(req.authorization), config::STATUS);
      if (!allowed.ok()) return Error(html, HttpStatusOf(allowed), allowed.message());
      return render(req);
    };
  };
  auto recent = [](const HttpRequest& req) {
    int n = kDefaultRecent;
    const std::string v = req.Param("recent");
    if (!v.empty() && (!absl::SimpleAtoi(v, &n) || n < 0)) n = kDefaultRecent;
    return std::min(n, kMaxRecent);
  };
  auto operation = [source](bool html, const HttpRequest& req) -> HttpResponse {
    const std::string name = req.Param("name");
    if (name.empty()) return Error(html, 400, "which operation? add ?name=operations/...");
    auto d = source->Operation(name);
    if (!d.ok()) return Error(html, HttpStatusOf(d.status()), d.status().message());
    if (!html) return Json(*d);
    return Html(200, RenderOperationPage(*d, google::protobuf::util::TimeUtil::GetCurrentTime()));
  };
  handlers["/"] = page(true, [source, recent](const HttpRequest& req) {
    return Html(200, RenderStatusPage(source->Report(recent(req))));
  });
  handlers["/api/status"] = page(false, [source, recent](const HttpRequest& req) {
    return Json(source->Report(recent(req)));
  });
  handlers["/operation"] = page(true, [operation](const HttpRequest& req) {
    return operation(true, req);
  });
  handlers["/api/operation"] = page(false, [operation](const HttpRequest& req) {
    return operation(false, req);
  });
}

}  // namespace kfarm
