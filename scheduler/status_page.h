// The scheduler's status page as plain server-rendered HTML, from the StatusReport and
// OperationDetail messages: nothing here reads the queue or storage, so every page is a pure
// function of its message and is tested as one. Every string that came from a client (commands,
// paths, output, invocation ids, instance names) goes through HtmlEscape.
#ifndef KFARM_SCHEDULER_STATUS_PAGE_H_
#define KFARM_SCHEDULER_STATUS_PAGE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "kfarm/status.pb.h"

namespace kfarm {

// Text safe in element content and in quoted attribute values. Control characters other than
// newline and tab become U+FFFD: output may be binary.
std::string HtmlEscape(absl::string_view text);
// Percent-encodes everything but RFC 3986's unreserved characters, for a query value.
std::string UrlEncode(absl::string_view text);

std::string RenderStatusPage(const status::StatusReport& report);
std::string RenderOperationPage(const status::OperationDetail& detail,
                                const google::protobuf::Timestamp& now);
std::string RenderErrorPage(int http_status, absl::string_view message);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STATUS_PAGE_H_
