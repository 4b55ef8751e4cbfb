#include "client/status_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/human_duration.h"
#include "common/status_text.h"
#include "kfarm/status.grpc.pb.h"

namespace kfarm {
namespace {

using google::protobuf::Timestamp;

// Columns padded to their widest cell; the last column is left ragged.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const {
    std::vector<size_t> width;
    for (const auto& r : rows_) {
      width.resize(std::max(width.size(), r.size()));
      for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    for (const auto& r : rows_) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Short(const std::string& name) { return name.substr(name.rfind('/') + 1); }

void PrintOperations(const google::protobuf::RepeatedPtrField<status::OperationSummary>& ops,
                     const Timestamp& now, bool finished, std::ostream& out) {
  Table t({"OPERATION", "BUILD", finished ? "RESULT" : "STAGE", "WORKER",
           finished ? "FINISHED" : "QUEUED", "COMMAND"});
  for (const auto& s : ops) {
    t.Add({Short(s.name()), s.invocation_id().empty() ? "-" : s.invocation_id(), OutcomeText(s),
           s.worker().empty() ? "-" : s.worker(), Ago(finished ? s.finished() : s.queued(), now),
           s.summary()});
  }
  t.Print(out);
}

}  // namespace

void PrintStatus(const status::StatusReport& r, std::ostream& out) {
  const Timestamp& now = r.now();
  out << "scheduler up " << HumanDuration(ToTime(now) - ToTime(r.started())) << "; " << r.operations()
      << " operations held, " << r.running_total() << " unfinished\n\nQUEUE\n";
  Table queue({"INSTANCE", "PLATFORM", "QUEUED", "EXECUTING"});
  for (const auto& q : r.queues()) {
    queue.Add({q.instance_name().empty() ? "\"\"" : q.instance_name(), q.platform(),
               std::to_string(q.queued()), std::to_string(q.executing())});
  }
  queue.Print(out);
  out << "\nWORKERS\n";
  Table workers({"WORKER", "STATE", "BUSY", "LAST SEEN", "RUNNING"});
  for (const auto& w : r.workers()) {
    std::vector<std::string> running;
    for (const auto& a : w.running()) {
      running.push_back(absl::StrCat(a.summary(), " (", HumanDuration(ToTime(now) - ToTime(a.started())), ")"));
    }
    workers.Add({w.id(),
                 !w.connected() ? "lost" : w.draining() ? "draining" : w.resting() ? "resting" : "ready",
                 absl::StrCat(w.running_size(), "/", w.slots()), Ago(w.last_seen(), now),
                 absl::StrJoin(running, "; ")});
  }
  workers.Print(out);
  out << "\nBUILDS\n";
  Table builds({"INVOCATION", "TOOL", "DONE", "CACHED", "QUEUED", "EXECUTING", "OK", "FAILED",
                "CANCELLED", "ACTIVE"});
  for (const auto& b : r.builds()) {
    const int64_t done = b.cached() + b.succeeded() + b.failed() + b.cancelled();
    builds.Add({b.invocation_id().empty() ? "(none)" : b.invocation_id(),
                b.tool().empty() ? "-" : b.tool(),
                absl::StrCat(done, "/", b.cached() + b.submitted()), std::to_string(b.cached()),
                std::to_string(b.queued()), std::to_string(b.executing()),
                std::to_string(b.succeeded()), std::to_string(b.failed()),
                std::to_string(b.cancelled()), Ago(b.last_activity(), now)});
  }
  builds.Print(out);
  out << "\nRUNNING";
  if (r.running_total() > r.running_size()) {
    out << " (the oldest " << r.running_size() << " of " << r.running_total() << ")";
  }
  out << "\n";
  PrintOperations(r.running(), now, false, out);
  out << "\nRECENTLY FINISHED\n";
  PrintOperations(r.recent(), now, true, out);
}

void PrintOperation(const status::OperationDetail& d, std::ostream& out) {
  const status::OperationSummary& s = d.summary();
  out << s.name() << "\n  result:   " << OutcomeText(s);
  if (!s.status_message().empty()) out << ": " << s.status_message();
  out << "\n  action:   " << s.action_digest() << "\n  build:    "
      << (s.invocation_id().empty() ? "-" : s.invocation_id()) << "\n  worker:   "
      << (s.worker().empty() ? "-" : s.worker()) << "\n";
  for (const auto& f : d.failures()) out << "  lost attempt: " << f << "\n";
  if (!d.unavailable().empty()) out << "  unavailable: " << d.unavailable() << "\n";
  out << "\ncommand:\n  " << absl::StrJoin(d.arguments(), " ") << "\n";
  out << "\ntimeline:\n";
  for (const Phase& p : Phases(d.metadata())) {
    out << "  " << p.name << ": "
        << (IsSet(p.to) ? HumanDuration(ToTime(p.to) - ToTime(p.from)) : std::string("not ended"))
        << "\n";
  }
  if (!d.stdout().empty()) out << "\nstdout:\n" << d.stdout() << (d.stdout_truncated() ? "\n(cut)\n" : "");
  if (!d.stderr().empty()) out << "\nstderr:\n" << d.stderr() << (d.stderr_truncated() ? "\n(cut)\n" : "");
}

int RunStatus(const std::shared_ptr<grpc::Channel>& channel, const StatusOptions& o,
              std::ostream& out, std::ostream& err) {
  auto stub = status::StatusService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  json.add_whitespace = true;
  std::string text;
  if (!o.operation.empty()) {
    status::OperationRequest req;
    req.set_name(o.operation);
    status::OperationDetail d;
    grpc::Status s = stub->GetOperation(&ctx, req, &d);
    if (!s.ok()) {
      err << "kfarm status " << o.operation << ": " << s.error_message() << "\n";
      return 1;
    }
    if (!o.json) return PrintOperation(d, out), 0;
    (void)google::protobuf::util::MessageToJsonString(d, &text, json);
    out << text;
    return 0;
  }
  status::StatusRequest req;
  req.set_max_recent(o.recent);
  status::StatusReport r;
  grpc::Status s = stub->GetStatus(&ctx, req, &r);
  if (!s.ok()) {
    err << "kfarm status: " << s.error_message() << "\n";
    return 1;
  }
  if (!o.json) return PrintStatus(r, out), 0;
  (void)google::protobuf::util::MessageToJsonString(r, &text, json);
  out << text;
  return 0;
}

}  // namespace kfarm
