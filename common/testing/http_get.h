// A GET over loopback for tests of the HTTP listeners (civetweb's client). Tests only.
#ifndef KFARM_COMMON_TESTING_HTTP_GET_H_
#define KFARM_COMMON_TESTING_HTTP_GET_H_

#include <civetweb.h>

#include <map>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"

namespace kfarm {

struct HttpGot {
  int status = 0;  // 0: no answer.
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;
};

// `extra` is more request header lines, each ending in "\r\n".
inline HttpGot HttpGet(int port, const std::string& path, const std::string& extra = "") {
  HttpGot got;
  char error[256] = {0};
  mg_connection* conn = mg_download("127.0.0.1", port, 0, error, sizeof error,
                                    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n",
                                    path.c_str(), extra.c_str());
  if (conn == nullptr) {
    got.body = error;
    return got;
  }
  const mg_response_info* info = mg_get_response_info(conn);
  got.status = info->status_code;
  for (int i = 0; i < info->num_headers; ++i) {
    got.headers[info->http_headers[i].name] = info->http_headers[i].value;
    if (std::string(info->http_headers[i].name) == "Content-Type") {
      got.content_type = info->http_headers[i].value;
    }
  }
  char buf[8192];
  for (int n; (n = mg_read(conn, buf, sizeof buf)) > 0;) got.body.append(buf, static_cast<size_t>(n));
  mg_close_connection(conn);
  return got;
}

// Prometheus text format as name{labels} -> value; comments skipped. Labels come as the server
// wrote them (prometheus-cpp sorts them by name).
inline std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space == std::string::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) continue;
    out[line.substr(0, space)] = v;
  }
  return out;
}

}  // namespace kfarm

#endif  // KFARM_COMMON_TESTING_HTTP_GET_H_
