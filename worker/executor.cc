#include "worker/executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"
#include "worker/input_stager.h"
#include "worker/output_collector.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time Stamp(google::protobuf::Timestamp* ts) {
  const absl::Time now = absl::Now();
  *ts = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  return now;
}

// Whether `dir` holds anything (or cannot be read). Most actions leave nothing behind, and one
// open and two getdents64 answer that without a directory_iterator's allocations.
bool HasEntries(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return true;
  alignas(struct dirent64) char buf[1024];
  for (;;) {
    const ssize_t n = ::getdents64(fd.get(), buf, sizeof buf);
    if (n <= 0) return n < 0;
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const struct dirent64*>(buf + off);
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return true;
      off += e->d_reclen;
    }
  }
}

// Removes everything inside `dir`, keeping `dir` itself.
bool EmptyDir(const std::string& dir) {
  if (!HasEntries(dir)) return true;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::filesystem::remove_all(it->path(), ec);
    if (ec) return false;
  }
  return !ec;
}

// Empties a kept stdout/stderr for the next action; the file is truncated only when something
// was written (a truncate updates the inode even when the file is already empty).
bool Rewind(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  if (st.st_size > 0 && ::ftruncate(fd, 0) != 0) return false;
  return ::lseek(fd, 0, SEEK_SET) == 0;
}

}  // namespace

Executor::Executor(CasReader* reader, CasUploader* uploader, FileCache* cache,
                   ExecutorOptions options, CommandRunnerFactory make_runner)
    : reader_(reader),
      uploader_(uploader),
      cache_(cache),
      options_(std::move(options)),
      make_runner_(make_runner != nullptr
                       ? std::move(make_runner)
                       : CommandRunnerFactory([sandbox = options_.sandbox](const std::string& dir)
                                                  -> std::unique_ptr<CommandRunner> {
                           if (!sandbox.bubblewrap) return std::make_unique<DirectCommandRunner>();
                           return std::make_unique<PersistentSandbox>(sandbox, dir);
                         })) {}

absl::StatusOr<Executor::Slot> Executor::AcquireSlot() {
  Slot slot;
  {
    absl::MutexLock lock(&mu_);
    if (!free_slots_.empty()) {
      slot = std::move(free_slots_.back());
      free_slots_.pop_back();
      return slot;
    }
    slot.dir = absl::StrCat(options_.build_root, "/slot-", next_dir_++);
  }
  std::error_code ec;
  std::filesystem::remove_all(slot.dir, ec);
  for (const char* sub : {"/root", "/tmp", "/shm", "/io"}) {
    std::filesystem::create_directories(slot.dir + sub, ec);
    if (ec) return ErrnoError("mkdir", slot.dir + sub, ec.value());
  }
  // stdout and stderr live outside the input root and are created once: the sandbox binds
  // these very files, so an action can write them but never swap them for a symlink that the
  // worker, reading them outside the sandbox, would follow.
  for (auto [f, fd] : {std::pair{"/io/stdout", &slot.out}, std::pair{"/io/stderr", &slot.err}}) {
    *fd = UniqueFd(::open((slot.dir + f).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd->get() < 0) return ErrnoError("create", slot.dir + f);
  }
  // The action's host user owns what it may write: the input root, /tmp, /dev/shm, stdout and
  // stderr.
  if (options_.sandbox.action_uid >= 0) {
    for (const char* p : {"/root", "/tmp", "/shm", "/io/stdout", "/io/stderr"}) {
      if (::chown((slot.dir + p).c_str(), options_.sandbox.action_uid,
                  options_.sandbox.action_gid) != 0) {
        return ErrnoError("chown to the action user", slot.dir + p);
      }
    }
  }
  return slot;
}

void Executor::ReleaseSlot(Slot slot) {
  if (!EmptyDir(slot.dir + "/root") || !EmptyDir(slot.dir + "/tmp") ||
      !EmptyDir(slot.dir + "/shm") || !Rewind(slot.out.get()) || !Rewind(slot.err.get())) {
    // Something the action left cannot be removed: never hand that tree to another action.
    slot.runner.reset();
    std::error_code ec;
    std::filesystem::remove_all(slot.dir, ec);
    return;
  }
  absl::MutexLock lock(&mu_);
  free_slots_.push_back(std::move(slot));
}

worker::Completion Executor::Run(const worker::Assignment& a, CancelSignal* cancel) {
  worker::Completion completion;
  completion.set_execution_id(a.execution_id());
  reapi::ExecuteResponse& response = *completion.mutable_response();
  reapi::ActionResult* result = response.mutable_result();
  auto* md = result->mutable_execution_metadata();
  md->set_worker(options_.worker_name);
  *md->mutable_queued_timestamp() = a.queued_timestamp();
  Stamp(md->mutable_worker_start_timestamp());
  absl::Status first_error;
  bool infrastructure = false;
  // What the action brought on itself: its outcome, or a step refusing what it asked for.
  auto note = [&](const absl::Status& s) {
    if (first_error.ok() && !s.ok()) first_error = s;
  };
  // A step of the worker's own: its failure is the worker's unless the step refused the action
  // (a missing input, a path or symlink the rules forbid).
  auto step = [&](const absl::Status& s) {
    if (!first_error.ok() || s.ok()) return;
    first_error = s;
    infrastructure = s.code() != absl::StatusCode::kFailedPrecondition &&
                     s.code() != absl::StatusCode::kInvalidArgument &&
                     s.code() != absl::StatusCode::kOutOfRange;
  };
  const std::string action = DescribeDigest(a.action_digest());
  auto slot = AcquireSlot();
  step(slot.status());
  const std::string dir = slot.ok() ? slot->dir : "";
  const std::string root = dir + "/root";
  const std::string& wd = a.command().working_directory();
  const std::string working_dir = wd.empty() ? root : root + "/" + wd;

  Stamp(md->mutable_input_fetch_start_timestamp());
  if (first_error.ok()) {
    auto root_digest = Digest::FromProto(a.action().input_root_digest());
    note(root_digest.status());
    if (root_digest.ok()) {
      InputStager stager(reader_, cache_, options_.link_inputs);
      step(Annotate(stager.Stage(*root_digest, root, a.input_directory_blobs()), "staging inputs"));
    }
  }
  if (first_error.ok()) step(CreateOutputParents(a.command(), working_dir));
  if (first_error.ok() && options_.sandbox.action_uid >= 0) {
    step(GiveDirectoriesTo(root, options_.sandbox.action_uid, options_.sandbox.action_gid));
  }
  Stamp(md->mutable_input_fetch_completed_timestamp());

  RunResult run;
  bool ran = false;
  const std::string out_path = dir + "/io/stdout", err_path = dir + "/io/stderr";
  const absl::Time execution_start = Stamp(md->mutable_execution_start_timestamp());
  if (first_error.ok()) {
    RunSpec spec;
    spec.argv.assign(a.command().arguments().begin(), a.command().arguments().end());
    for (const auto& e : a.command().environment_variables()) spec.env.emplace_back(e.name(), e.value());
    spec.input_root = root;
    spec.working_dir = wd;
    spec.stdout_path = out_path;
    spec.stderr_path = err_path;
    spec.stdout_fd = slot->out.get();
    spec.stderr_fd = slot->err.get();
    spec.timeout = absl::Nanoseconds(TimeUtil::DurationToNanoseconds(a.timeout()));
    if (slot->runner == nullptr) slot->runner = make_runner_(dir);
    absl::StatusOr<RunResult> r = slot->runner->Run(spec, cancel);
    step(r.status());  // The sandbox could not run it.
    ran = r.ok();
    if (r.ok()) run = *r;
  }
  const absl::Time execution_end = Stamp(md->mutable_execution_completed_timestamp());
  // The time the command ran, on the clock its timeout is enforced by; staging and uploads are
  // not in it.
  *md->mutable_virtual_execution_duration() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(execution_end - execution_start));
  result->set_exit_code(run.exit_code);
  if (run.timed_out) {
    note(absl::DeadlineExceededError(absl::StrCat(
        "action ", action, " timed out after ",
        absl::FormatDuration(absl::Nanoseconds(TimeUtil::DurationToNanoseconds(a.timeout()))),
        " and was killed")));
  }
  if (run.cancelled) note(absl::CancelledError(absl::StrCat("action ", action, " was cancelled")));
  if (!run.limit_exceeded.empty()) {
    note(absl::ResourceExhaustedError(absl::StrCat("action ", action, ": ", run.limit_exceeded)));
  }

  Stamp(md->mutable_output_upload_start_timestamp());
  // Outputs and stdout/stderr are kept even for a timeout: they show how far it got.
  if (ran) {
    step(CollectOutputs(*uploader_, a.command(), root, working_dir, out_path, err_path, result));
  }
  Stamp(md->mutable_output_upload_completed_timestamp());
  if (slot.ok()) ReleaseSlot(std::move(*slot));
  Stamp(md->mutable_worker_completed_timestamp());
  if (!first_error.ok()) {
    *response.mutable_status() = ToRpcStatus(first_error);
    response.set_message(std::string(first_error.message()));
    if (infrastructure) {
      completion.set_infrastructure_failure(
          absl::StrCat("worker ", options_.worker_name, ": ", first_error.message()));
    }
  }
  return completion;
}

}  // namespace kfarm
