#include "worker/worker_loop.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace kfarm {

WorkerLoop::WorkerLoop(WorkerOptions options, std::shared_ptr<grpc::Channel> channel,
                       ActionRunner* runner, FileCache* cache)
    : options_(std::move(options)),
      stub_(worker::WorkerService::NewStub(channel)),
      runner_(runner),
      cache_(cache) {}

WorkerLoop::~WorkerLoop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, r] : running_) {
      r.cancel->Cancel();
      threads.push_back(std::move(r.thread));
    }
    for (auto& t : finished_) threads.push_back(std::move(t));
    finished_.clear();
  }
  for (auto& t : threads) t.join();
}

void WorkerLoop::Stop() {
  absl::MutexLock lock(&mu_);
  if (ctx_ != nullptr) ctx_->TryCancel();
}

void WorkerLoop::Drain() {
  draining_ = true;
  worker::WorkerMessage hb;
  hb.mutable_heartbeat()->set_draining(true);
  Send(hb);  // Without a stream now, the next one's first heartbeat says it.
}

bool WorkerLoop::Drained() {
  absl::MutexLock lock(&mu_);
  // Completions wait for the scheduler's word only while it is there to give it: one that went
  // away (the whole farm shutting down) runs what it lost again if it comes back.
  // An assignment may be on its way until the scheduler answers the drain on this stream.
  return draining_ && (drain_heard_ || stream_ == nullptr) && running_.empty() &&
         queued_.empty() && (in_doubt_.empty() || stream_ == nullptr);
}

void WorkerLoop::Run(const std::atomic<bool>* stop) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!*stop) {
    if (Session(stop)) backoff = absl::Milliseconds(100);
    if (*stop) break;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

uint64_t WorkerLoop::Send(const worker::WorkerMessage& msg) {
  absl::MutexLock wlock(&write_mu_);
  Stream* s;
  uint64_t session;
  {
    absl::MutexLock lock(&mu_);
    s = stream_;
    session = session_;
  }
  return s != nullptr && s->Write(msg) ? session : 0;
}

void WorkerLoop::SendCompletion(const worker::Completion& c) {
  worker::WorkerMessage m;
  *m.mutable_completion() = c;
  const uint64_t session = Send(m);
  if (session == 0) return;  // Kept: the next stream carries it.
  absl::MutexLock lock(&mu_);
  auto it = in_doubt_.find(c.execution_id());
  if (it == in_doubt_.end()) return;  // Received already.
  it->second.written_on = session;
  // A scheduler that never acknowledges: written is as delivered as it gets.
  if (session == session_ && welcomed_ && !acknowledged_) in_doubt_.erase(it);
}

bool WorkerLoop::ToolsChanged() {
  if (options_.tools == nullptr) return false;
  absl::MutexLock lock(&tools_mu_);
  if (!options_.tools->Refresh()) return false;
  std::string now;
  for (const auto& [name, value] : options_.tools->properties()) {
    absl::StrAppend(&now, now.empty() ? "" : ", ", name, "=", value);
  }
  LogInfo("worker ", options_.worker_id, ": tools changed, registering again with ",
          now.empty() ? "none" : now);
  return true;
}

bool WorkerLoop::Session(const std::atomic<bool>* stop) {
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->Connect(&ctx);
  worker::WorkerMessage reg_msg;
  auto* reg = reg_msg.mutable_register_();
  reg->set_worker_id(options_.worker_id);
  reg->set_slots(options_.slots);
  reg->set_queue_depth(options_.queue_depth);
  for (const auto& p : options_.properties) *reg->add_properties() = p;
  if (options_.tools != nullptr) {
    absl::MutexLock lock(&tools_mu_);
    for (const auto& [name, value] : options_.tools->properties()) {
      auto* prop = reg->add_properties();
      prop->set_name(name);
      prop->set_value(value);
    }
  }
  for (const Digest& d : cache_->LargeBlobs(1 << 20)) d.ToProto(reg->add_cached_blobs());
  std::vector<worker::Completion> in_doubt;
  bool registered;
  {
    // Held until Register is written: the stream is published below, and an action finishing
    // meanwhile must not write its completion before (or beside) the Register.
    absl::MutexLock wlock(&write_mu_);
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, r] : running_) reg->add_running_executions(id);
      for (const auto& a : queued_) reg->add_running_executions(a.execution_id());
      // Finished, but not known to be received: the scheduler keeps them as running here, and
      // the completions follow.
      for (const auto& [id, c] : in_doubt_) {
        reg->add_running_executions(id);
        in_doubt.push_back(c.completion);
      }
      stream_ = stream.get();
      ctx_ = &ctx;
      ++session_;
      welcomed_ = acknowledged_ = drain_heard_ = false;
    }
    registered = stream->Write(reg_msg);
  }
  bool welcomed = false;
  // Short until the Welcome says otherwise, so the first heartbeat is never late.
  std::atomic<int64_t> heartbeat_ms{100};
  absl::Mutex hb_mu;
  bool hb_stop = false;
  std::thread heartbeat;
  if (registered) {
    for (const auto& c : in_doubt) SendCompletion(c);
    heartbeat = std::thread([&] {
      absl::MutexLock lock(&hb_mu);
      while (!hb_stop) {
        hb_mu.AwaitWithTimeout(absl::Condition(&hb_stop), absl::Milliseconds(heartbeat_ms.load()));
        if (!hb_stop) {
          hb_mu.Unlock();
          worker::WorkerMessage hb;
          for (const Digest& d : cache_->TakeNewLargeBlobs()) {
            d.ToProto(hb.mutable_heartbeat()->add_cached_blobs_added());
          }
          hb.mutable_heartbeat()->set_draining(draining_);
          Send(hb);
          if (ToolsChanged()) ctx.TryCancel();  // Run registers again at once.
          hb_mu.Lock();
        }
      }
    });
    worker::SchedulerMessage msg;
    while (!*stop && stream->Read(&msg)) {
      if (msg.received_size() > 0) {  // On any message, or alone.
        absl::MutexLock lock(&mu_);
        for (const std::string& id : msg.received()) in_doubt_.erase(id);
      }
      if (msg.has_welcome()) {
        welcomed = true;
        {
          absl::MutexLock lock(&mu_);
          welcomed_ = true;
          acknowledged_ = msg.welcome().acknowledges_completions();
          if (!acknowledged_) {  // An older scheduler: what this stream took counts as delivered.
            for (auto it = in_doubt_.begin(); it != in_doubt_.end();) {
              it = it->second.written_on == session_ ? in_doubt_.erase(it) : std::next(it);
            }
          }
        }
        heartbeat_ms = std::max<int64_t>(
            10, google::protobuf::util::TimeUtil::DurationToMilliseconds(
                    msg.welcome().heartbeat_interval()));
        LogInfo("worker ", options_.worker_id, " connected to ", options_.scheduler);
      } else if (msg.has_assignment()) {
        Start(msg.assignment());
      } else if (msg.has_cancel()) {
        std::optional<worker::WorkerMessage> dropped;
        {
          absl::MutexLock lock(&mu_);
          auto it = running_.find(msg.cancel().execution_id());
          if (it != running_.end()) it->second.cancel->Cancel();
          dropped = TakeQueuedLocked(msg.cancel().execution_id());
          if (dropped) in_doubt_[dropped->completion().execution_id()] = {dropped->completion(), 0};
        }
        if (dropped) SendCompletion(dropped->completion());
      } else if (msg.has_drain()) {
        // The scheduler stops assigning; running work finishes as usual.
        LogInfo("worker ", options_.worker_id, " draining");
        absl::MutexLock lock(&mu_);
        drain_heard_ = true;
      }
      ReapFinishedThreads();
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    ctx_ = nullptr;
  }
  {
    absl::MutexLock wlock(&write_mu_);  // No Write may be in progress when the stream goes.
  }
  {
    absl::MutexLock lock(&hb_mu);
    hb_stop = true;
  }
  if (heartbeat.joinable()) heartbeat.join();
  ctx.TryCancel();
  grpc::Status s = stream->Finish();
  if (!*stop) {
    LogWarning("worker ", options_.worker_id, ": stream to ", options_.scheduler, " ended: ",
               s.error_message().empty() ? "disconnected" : s.error_message());
  }
  return welcomed;
}

void WorkerLoop::Start(const worker::Assignment& a) {
  absl::MutexLock lock(&mu_);
  const std::string& id = a.execution_id();
  if (running_.count(id) > 0) return;
  for (const auto& q : queued_) {
    if (q.execution_id() == id) return;
  }
  if (static_cast<int>(running_.size()) >= options_.slots) {
    queued_.push_back(a);
    return;
  }
  Running& r = running_[id];
  r.cancel = std::make_unique<CancelSignal>();
  r.thread = std::thread([this, a] { RunFrom(a); });
}

void WorkerLoop::RunFrom(worker::Assignment a) {
  for (;;) {
    CancelSignal* cancel;
    {
      absl::MutexLock lock(&mu_);
      cancel = running_[a.execution_id()].cancel.get();
    }
    std::optional<worker::Assignment> next = Finish(runner_->Run(a, cancel));
    if (!next) return;
    a = std::move(*next);
  }
}

std::optional<worker::Assignment> WorkerLoop::Finish(worker::Completion completion) {
  const std::string id = completion.execution_id();
  {
    absl::MutexLock lock(&mu_);
    in_doubt_[id] = {completion, 0};
  }
  SendCompletion(completion);
  absl::MutexLock lock(&mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return std::nullopt;
  std::thread self = std::move(it->second.thread);
  running_.erase(it);
  if (!queued_.empty()) {
    worker::Assignment next = std::move(queued_.front());
    queued_.pop_front();
    Running& r = running_[next.execution_id()];
    r.cancel = std::make_unique<CancelSignal>();
    r.thread = std::move(self);  // This thread goes on with it.
    return next;
  }
  finished_.push_back(std::move(self));
  return std::nullopt;
}

std::optional<worker::WorkerMessage> WorkerLoop::TakeQueuedLocked(const std::string& id) {
  for (auto q = queued_.begin(); q != queued_.end(); ++q) {
    if (q->execution_id() != id) continue;
    queued_.erase(q);
    // The scheduler counts it against this worker until it hears back.
    worker::WorkerMessage m;
    m.mutable_completion()->set_execution_id(id);
    auto* st = m.mutable_completion()->mutable_response()->mutable_status();
    st->set_code(static_cast<int>(absl::StatusCode::kCancelled));
    st->set_message(absl::StrCat("execution ", id, " was cancelled before it started"));
    return m;
  }
  return std::nullopt;
}

void WorkerLoop::ReapFinishedThreads() {
  std::vector<std::thread> done;
  {
    absl::MutexLock lock(&mu_);
    done.swap(finished_);
  }
  for (auto& t : done) {
    if (t.get_id() != std::this_thread::get_id()) t.join();
  }
}

}  // namespace kfarm
