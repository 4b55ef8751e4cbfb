#include "scheduler/status_page.h"


#include <algorithm>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/human_duration.h"
#include "common/status_text.h"

namespace kfarm {
namespace {

using google::protobuf::Timestamp;

constexpr char kStyle[] =
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.n{text-align:right}code,pre{font:12px ui-monospace,monospace}"
    "pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:30em;white-space:pre-wrap}"
    ".bar{background:#eee;width:16em;height:.9em;position:relative}"
    ".bar span{position:absolute;top:0;height:100%}"
    ".ok{background:#4a4}.bad{background:#c44}.run{background:#48c}.cache{background:#9a6}"
    ".fetch{background:#c90}.exec{background:#48c}.upload{background:#a6c}.wait{background:#bbb}"
    ".failed{color:#b22}.muted{color:#888}";

std::string Head(absl::string_view title, bool refresh) {
  return absl::StrCat("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>",
                      HtmlEscape(title), "</title>",
                      refresh ? "<meta http-equiv=\"refresh\" content=\"5\">" : "",
                      "<style>", kStyle, "</style></head><body>");
}

std::string OperationLink(const std::string& name, absl::string_view text) {
  return absl::StrCat("<a href=\"/operation?name=", HtmlEscape(UrlEncode(name)), "\">",
                      HtmlEscape(text), "</a>");
}

std::string Outcome(const status::OperationSummary& s) {
  const std::string text = HtmlEscape(OutcomeText(s));
  return OutcomeFailed(s) ? absl::StrCat("<span class=\"failed\">", text, "</span>") : text;
}

void OperationRows(std::string& out, const char* id,
                   const google::protobuf::RepeatedPtrField<status::OperationSummary>& ops,
                   const Timestamp& now, bool finished) {
  absl::StrAppend(&out, "<table id=\"", id, "\"><tr><th>operation</th><th>build</th>",
                  "<th>command</th><th>worker</th><th>", finished ? "result" : "stage",
                  "</th><th>", finished ? "finished" : "queued", "</th></tr>");
  for (const auto& s : ops) {
    absl::StrAppend(&out, "<tr class=\"op\" data-invocation=\"", HtmlEscape(s.invocation_id()),
                    "\"><td>", OperationLink(s.name(), s.name().substr(s.name().rfind('/') + 1)),
                    "</td><td><code>", HtmlEscape(s.invocation_id()), "</code></td><td><code>",
                    HtmlEscape(s.summary()), "</code></td><td>", HtmlEscape(s.worker()),
                    "</td><td>", Outcome(s),
                    s.retries() > 0 ? absl::StrCat(" (", s.retries(), " retries)") : "",
                    "</td><td>", Ago(finished ? s.finished() : s.queued(), now), "</td></tr>");
  }
  out += "</table>";
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\n': case '\t': out += c; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\xef\xbf\xbd";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string RenderStatusPage(const status::StatusReport& r) {
  const Timestamp& now = r.now();
  std::string out = Head("kfarm scheduler", true);
  absl::StrAppend(&out, "<h1>kfarm scheduler</h1><p class=\"muted\">up ",
                  HumanDuration(ToTime(now) - ToTime(r.started())), "; ", r.operations(),
                  " operations held, ", r.running_total(),
                  " unfinished. <a href=\"/api/status\">JSON</a> · <a href=\"/metrics\">metrics</a>"
                  "</p>");

  out += "<h2>Queue</h2><table id=\"queue\"><tr><th>instance</th><th>platform</th>"
         "<th>queued</th><th>executing</th></tr>";
  for (const auto& q : r.queues()) {
    absl::StrAppend(&out, "<tr><td><code>", HtmlEscape(q.instance_name()), "</code></td><td><code>",
                    HtmlEscape(q.platform()), "</code></td><td class=\"n\">", q.queued(),
                    "</td><td class=\"n\">", q.executing(), "</td></tr>");
  }
  if (r.queues().empty()) out += "<tr><td colspan=\"4\" class=\"muted\">empty</td></tr>";
  out += "</table>";

  out += "<h2>Builds</h2><table id=\"builds\"><tr><th>invocation</th><th>tool</th>"
         "<th>progress</th><th>cached</th><th>queued</th><th>executing</th><th>succeeded</th>"
         "<th>failed</th><th>cancelled</th><th>started</th><th>last activity</th></tr>";
  for (const auto& b : r.builds()) {
    const int64_t total = b.cached() + b.submitted();
    const int64_t done = b.cached() + b.succeeded() + b.failed() + b.cancelled();
    auto pct = [&](int64_t n) { return total == 0 ? 0.0 : 100.0 * n / total; };
    const double cached = pct(b.cached()), ok = pct(b.succeeded()), bad = pct(b.failed() + b.cancelled());
    absl::StrAppend(
        &out, "<tr class=\"build\" data-invocation=\"", HtmlEscape(b.invocation_id()), "\"><td><code>",
        b.invocation_id().empty() ? "<span class=\"muted\">(none)</span>" : HtmlEscape(b.invocation_id()),
        "</code></td><td>", HtmlEscape(b.tool()), "</td><td><div class=\"bar\" title=\"", done,
        " of ", total, " done\">",
        absl::StrFormat("<span class=\"cache\" style=\"left:0;width:%.1f%%\"></span>"
                        "<span class=\"ok\" style=\"left:%.1f%%;width:%.1f%%\"></span>"
                        "<span class=\"bad\" style=\"left:%.1f%%;width:%.1f%%\"></span>",
                        cached, cached, ok, cached + ok, bad),
        "</div>", done, "/", total, "</td><td class=\"n\">", b.cached(), "</td><td class=\"n\">",
        b.queued(), "</td><td class=\"n\">", b.executing(), "</td><td class=\"n\">", b.succeeded(),
        "</td><td class=\"n", b.failed() > 0 ? " failed" : "", "\">", b.failed(),
        "</td><td class=\"n\">", b.cancelled(), "</td><td>", Ago(b.first_seen(), now), "</td><td>",
        Ago(b.last_activity(), now), "</td></tr>");
  }
  out += "</table>";

  out += "<h2>Workers</h2><table id=\"workers\"><tr><th>worker</th><th>state</th><th>slots</th>"
         "<th>running</th><th>last seen</th><th>platform</th></tr>";
  for (const auto& w : r.workers()) {
    std::string state = !w.connected() ? "lost"
                        : w.draining() ? "draining"
                        : w.resting()  ? "resting"
                                       : "ready";
    std::vector<std::string> running;
    for (const auto& a : w.running()) {
      running.push_back(absl::StrCat(OperationLink(a.operation(), a.summary()), " <span class=\"muted\">",
                                     HumanDuration(ToTime(now) - ToTime(a.started())), "</span>"));
    }
    absl::StrAppend(&out, "<tr class=\"worker\" data-worker=\"", HtmlEscape(w.id()), "\"><td>",
                    HtmlEscape(w.id()), "</td><td>", state, "</td><td class=\"n\">",
                    w.running_size(), "/", w.slots(), "</td><td>", absl::StrJoin(running, "<br>"),
                    "</td><td>", Ago(w.last_seen(), now), "</td><td><code>", HtmlEscape(w.platform()),
                    "</code></td></tr>");
  }
  out += "</table>";

  absl::StrAppend(&out, "<h2>Running</h2>");
  if (r.running_total() > r.running_size()) {
    absl::StrAppend(&out, "<p class=\"muted\">the oldest ", r.running_size(), " of ",
                    r.running_total(), "</p>");
  }
  OperationRows(out, "running", r.running(), now, false);
  out += "<h2>Recently finished</h2>";
  OperationRows(out, "recent", r.recent(), now, true);
  out += "</body></html>";
  return out;
}

std::string RenderOperationPage(const status::OperationDetail& d, const Timestamp& now) {
  const status::OperationSummary& s = d.summary();
  std::string out = Head(absl::StrCat("kfarm ", s.name()), s.stage() != "COMPLETED" &&
                                                              s.stage() != "CANCELLED");
  absl::StrAppend(&out, "<p><a href=\"/\">&larr; status</a></p><h1>", HtmlEscape(s.name()),
                  "</h1><table id=\"facts\">");
  auto fact = [&](absl::string_view name, const std::string& html) {
    absl::StrAppend(&out, "<tr><th>", name, "</th><td>", html, "</td></tr>");
  };
  fact("result", Outcome(s));
  if (!s.status_message().empty()) fact("message", HtmlEscape(s.status_message()));
  fact("action", absl::StrCat("<code>", HtmlEscape(s.action_digest()), "</code>"));
  fact("instance", absl::StrCat("<code>", HtmlEscape(s.instance_name()), "</code>"));
  fact("build", absl::StrCat("<code>", HtmlEscape(s.invocation_id()), "</code>"));
  fact("worker", HtmlEscape(s.worker()));
  fact("queued", Ago(s.queued(), now));
  std::vector<std::string> platform;
  for (const auto& p : d.platform().properties()) platform.push_back(absl::StrCat(p.name(), "=", p.value()));
  fact("platform", absl::StrCat("<code>", HtmlEscape(absl::StrJoin(platform, ", ")), "</code>"));
  if (!d.working_directory().empty()) {
    fact("working directory", absl::StrCat("<code>", HtmlEscape(d.working_directory()), "</code>"));
  }
  fact("outputs", absl::StrCat("<code>", HtmlEscape(absl::StrJoin(d.output_paths(), " ")), "</code>"));
  for (const auto& f : d.failures()) fact("lost attempt", HtmlEscape(f));
  if (d.operations_size() > 1) fact("joined by", HtmlEscape(absl::StrJoin(d.operations(), " ")));
  out += "</table>";
  if (!d.unavailable().empty()) {
    absl::StrAppend(&out, "<p class=\"failed\" id=\"unavailable\">", HtmlEscape(d.unavailable()), "</p>");
  }

  // Quoted one argument at a time, as a shell would need them, so the line can be re-run.
  std::vector<std::string> args;
  for (const auto& a : d.arguments()) {
    const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
      return absl::ascii_isalnum(c) || std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
    });
    std::string quoted = a;
    if (!plain) {
      quoted = "'";
      for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "'";
    }
    args.push_back(quoted);
  }
  absl::StrAppend(&out, "<h2>Command</h2><pre id=\"command\">", HtmlEscape(absl::StrJoin(args, " ")),
                  "</pre>");
  if (d.environment_size() > 0) {
    std::vector<std::string> env;
    for (const auto& e : d.environment()) env.push_back(absl::StrCat(e.name(), "=", e.value()));
    absl::StrAppend(&out, "<details><summary>environment (", env.size(), ")</summary><pre id=\"env\">",
                    HtmlEscape(absl::StrJoin(env, "\n")), "</pre></details>");
  }

  // The timeline: each phase the worker reported, against the whole from queued to done.
  const auto& m = d.metadata();
  absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
  for (const Timestamp* t : {&m.queued_timestamp(), &m.worker_start_timestamp(),
                             &m.worker_completed_timestamp(), &m.output_upload_completed_timestamp()}) {
    if (!IsSet(*t)) continue;
    first = std::min(first, ToTime(*t));
    last = std::max(last, ToTime(*t));
  }
  out += "<h2>Timeline</h2><table id=\"timeline\"><tr><th>phase</th><th>took</th><th></th></tr>";
  const double whole = first < last ? absl::ToDoubleMicroseconds(last - first) : 0;
  for (const Phase& p : Phases(m)) {
    const bool ended = IsSet(p.to);
    const absl::Time from = ToTime(p.from), to = ended ? ToTime(p.to) : ToTime(now);
    double left = whole > 0 ? 100 * absl::ToDoubleMicroseconds(from - first) / whole : 0;
    double width = whole > 0 ? 100 * absl::ToDoubleMicroseconds(to - from) / whole : 0;
    left = std::clamp(left, 0.0, 100.0);
    width = std::clamp(width, 0.0, 100.0 - left);
    absl::StrAppendFormat(&out,
                          "<tr class=\"phase\" data-phase=\"%s\"><td>%s</td><td class=\"n\">%s%s</td>"
                          "<td><div class=\"bar\" style=\"width:32em\"><span class=\"%s\" "
                          "style=\"left:%.2f%%;width:max(%.2f%%,1px)\"></span></div></td></tr>",
                          p.name, p.name, HumanDuration(to - from), ended ? "" : " so far", p.css, left, width);
  }
  out += "</table>";

  for (auto [name, text, truncated] :
       {std::tuple<const char*, const std::string*, bool>{"stdout", &d.stdout(), d.stdout_truncated()},
        std::tuple<const char*, const std::string*, bool>{"stderr", &d.stderr(), d.stderr_truncated()}}) {
    absl::StrAppend(&out, "<h2>", name, "</h2><pre id=\"", name, "\">", HtmlEscape(*text), "</pre>",
                    truncated ? "<p class=\"muted\">(cut at 64 KiB)</p>" : "");
  }
  out += "</body></html>";
  return out;
}

std::string RenderErrorPage(int http_status, absl::string_view message) {
  return absl::StrCat(Head("kfarm: error", false), "<p><a href=\"/\">&larr; status</a></p><h1>",
                      http_status, "</h1><p id=\"error\">", HtmlEscape(message), "</p></body></html>");
}

}  // namespace kfarm
