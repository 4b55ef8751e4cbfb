// Remote execution end to end: the real scheduler and workers over loopback.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <grpcpp/client_context.h>

#include "common/cas_client.h"
#include "common/execution_client.h"
#include "common/merkle.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "kfarm/worker.grpc.pb.h"
#include "tests/execution_fixture.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using google::protobuf::util::TimeUtil;

TEST_F(ExecutionTest, ShellActionRoundTrip) {
  StartFarm(2, 1);
  ActionSpec spec = Shell(
      "cat in/a.txt; tr a-z A-Z < in/a.txt > out/up.txt; mkdir -p gen/sub; echo deep > "
      "gen/sub/f; ln -s up.txt out/link; echo to-stderr >&2; exit 3",
      {"out/up.txt", "gen", "out/link", "never/made"});
  spec.input_root = UploadDir({{"in/a.txt", "hello farm\n"}});
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  const auto& res = r->result();
  EXPECT_EQ(res.exit_code(), 3);
  EXPECT_EQ(Blob(res.stdout_digest()), "hello farm\n");
  EXPECT_EQ(Blob(res.stderr_digest()), "to-stderr\n");
  ASSERT_EQ(res.output_files_size(), 1);
  EXPECT_EQ(res.output_files(0).path(), "out/up.txt");
  EXPECT_EQ(Blob(res.output_files(0).digest()), "HELLO FARM\n");
  ASSERT_EQ(res.output_directories_size(), 1);
  reapi::Tree tree;
  ASSERT_TRUE(tree.ParseFromString(Blob(res.output_directories(0).tree_digest())));
  EXPECT_EQ(tree.root().directories(0).name(), "sub");
  ASSERT_EQ(res.output_symlinks_size(), 1);
  EXPECT_EQ(res.output_symlinks(0).target(), "up.txt");

  const auto& md = res.execution_metadata();
  EXPECT_THAT(md.worker(), ::testing::AnyOf("w0", "w1"));
  EXPECT_LE(TimeUtil::TimestampToNanoseconds(md.queued_timestamp()),
            TimeUtil::TimestampToNanoseconds(md.worker_start_timestamp()));
  EXPECT_LE(TimeUtil::TimestampToNanoseconds(md.execution_start_timestamp()),
            TimeUtil::TimestampToNanoseconds(md.execution_completed_timestamp()));
  EXPECT_LE(TimeUtil::TimestampToNanoseconds(md.output_upload_completed_timestamp()),
            TimeUtil::TimestampToNanoseconds(md.worker_completed_timestamp()));

  // Exit code 3 is not cached; a successful action is, and a second run is a cache hit.
  auto again = Run(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->cached_result());
  ActionSpec ok = Shell("echo cached > o", {"o"});
  ASSERT_TRUE(Run(ok).ok());
  auto hit = Run(ok);
  ASSERT_TRUE(hit.ok());
  EXPECT_TRUE(hit->cached_result());
}

TEST_F(ExecutionTest, TimeoutKillsAndKeepsPartialOutput) {
  StartFarm(1, 1);
  ActionSpec spec = Shell("echo partial; echo started > o; sleep 30", {"o"});
  spec.timeout = absl::Seconds(1);
  auto start = std::chrono::steady_clock::now();
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r->status().code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(r->status().message(), HasSubstr("timed out"));
  EXPECT_EQ(Blob(r->result().stdout_digest()), "partial\n");
  ASSERT_EQ(r->result().output_files_size(), 1);

  ActionSpec too_long = Shell("true");
  too_long.timeout = absl::Hours(100);
  auto rejected = Run(too_long);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rejected.status().message(), HasSubstr("maximum"));
}

TEST_F(ExecutionTest, MissingInputsListEveryBlob) {
  StartFarm(1, 1);
  ActionSpec spec = Shell("cat a b");
  reapi::Directory root;
  Digest a = Digest::Of("never uploaded a"), b = Digest::Of("never uploaded b");
  for (auto [name, d] : {std::pair{"a", a}, std::pair{"b", b}}) {
    auto* f = root.add_files();
    f->set_name(name);
    d.ToProto(f->mutable_digest());
  }
  std::string root_bytes = root.SerializeAsString();
  ASSERT_TRUE(cas_->UploadMissing({{Digest::Of(root_bytes), "", std::make_shared<std::string>(root_bytes)}}).ok());
  spec.input_root = Digest::Of(root_bytes);
  BuiltAction act = Prepare(spec);

  grpc::Status s = ExecuteOnce(act.digest);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  google::rpc::PreconditionFailure pf;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&pf));
  std::vector<std::string> subjects;
  for (const auto& v : pf.violations()) {
    EXPECT_EQ(v.type(), "MISSING");
    subjects.push_back(v.subject());
  }
  EXPECT_THAT(subjects, ::testing::UnorderedElementsAre("blobs/" + a.ToString(), "blobs/" + b.ToString()));

  Digest ghost = Digest::Of("no such action");
  s = ExecuteOnce(ghost);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("Action " + ghost.ToString()));
}

// A Directory's digest is that of the bytes its client stored. Another client's encoding (an
// unknown field first, fields out of order) must stage as it is: a worker that re-encoded
// the message would look for another digest, for the root and for the subdirectory alike.
TEST_F(ExecutionTest, DirectoriesInAnotherEncodingStageByTheirOwnBytes) {
  StartFarm(1, 1);
  const std::string text = "staged from the client's bytes\n";
  const Digest file = Digest::Of(text);
  reapi::Directory sub;
  auto* f = sub.add_files();
  f->set_name("in.txt");
  file.ToProto(f->mutable_digest());
  // Field 15 (unknown to Directory) first: protobuf keeps it, but writes it back last.
  const std::string sub_bytes = std::string("\x78\x01", 2) + sub.SerializeAsString();
  ASSERT_NE(Digest::Of(sub_bytes), Digest::Of(sub.SerializeAsString()));
  reapi::Directory root;
  auto* d = root.add_directories();
  d->set_name("sub");
  Digest::Of(sub_bytes).ToProto(d->mutable_digest());
  auto* n = root.add_files();  // Files (field 1) after directories (field 2): out of order.
  n->set_name("top.txt");
  file.ToProto(n->mutable_digest());
  reapi::Directory files_only, dirs_only;
  *files_only.add_files() = *n;
  *dirs_only.add_directories() = *d;
  const std::string root_bytes = dirs_only.SerializeAsString() + files_only.SerializeAsString();
  ASSERT_NE(Digest::Of(root_bytes), Digest::Of(root.SerializeAsString()));
  std::vector<BlobSource> blobs;
  for (const std::string& b : {text, sub_bytes, root_bytes}) {
    blobs.push_back({Digest::Of(b), "", std::make_shared<std::string>(b)});
  }
  ASSERT_TRUE(cas_->UploadMissing(blobs).ok());
  ActionSpec spec = Shell("cat sub/in.txt top.txt > o", {"o"});
  spec.input_root = Digest::Of(root_bytes);
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status().code(), 0) << r->status().message();
  ASSERT_EQ(r->result().exit_code(), 0) << Blob(r->result().stderr_digest());
  EXPECT_EQ(Blob(r->result().output_files(0).digest()), text + text);
  // The client's own download finds them by the same bytes.
  const std::string out = dir_.path() + "/downloaded";
  absl::Status got = cas_->DownloadTree(Digest::Of(root_bytes), out);
  ASSERT_TRUE(got.ok()) << got;
  std::ifstream in(out + "/sub/in.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line + "\n", text);
}

TEST_F(ExecutionTest, KilledWorkerActionCompletesElsewhereOnce) {
  StartFarm(1, 1);
  ActionSpec spec = Shell("sleep 2; echo done > o", {"o"});
  BuiltAction a = Prepare(spec);
  auto result = StartAndAwaitExecuting(a.digest);
  farm_->Kill("w0", SIGKILL);
  farm_->AddWorker("w1", 1);
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  EXPECT_EQ(r->result().execution_metadata().worker(), "w1");
  EXPECT_EQ(Blob(r->result().output_files(0).digest()), "done\n");
}

TEST_F(ExecutionTest, ActionThatKillsItsWorkerFailsAfterTheRetryCap) {
  StartFarm(0, 1);
  ActionSpec spec = Shell("kill -9 $PPID; sleep 5");
  BuiltAction a = Prepare(spec);
  std::atomic<bool> done{false};
  auto result = std::async(std::launch::async, [&] {
    auto r = exec_->Execute(a.digest, {});
    done = true;
    return r;
  });
  // Keep replacing dead workers, as a supervisor would, until the scheduler gives up.
  for (int i = 0; i < 8 && !done; ++i) {
    farm_->AddWorker(absl::StrCat("crash", i), 1, "none");
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    farm_->Kill(absl::StrCat("crash", i), SIGKILL);
  }
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(r->status().message(), HasSubstr(a.digest.ToString()));
  EXPECT_THAT(r->status().message(), HasSubstr("crash0"));
  EXPECT_THAT(r->status().message(), HasSubstr("3 times"));
}

TEST_F(ExecutionTest, WorkerBackFromABlipReclaimsItsAction) {
  // Lost after 600 ms of silence; its action waits 10 s for it (lost_worker_grace_ms).
  StartFarm(0, 1, "bubblewrap", "lost_worker_grace_ms: 10000");
  const std::string log = farm_->AddWorkerLoggingTo("w0", 1, "bubblewrap");
  ActionSpec spec = Shell("sleep 4; echo once > o", {"o"});
  spec.do_not_cache = true;
  BuiltAction a = Prepare(spec);
  auto result = StartAndAwaitExecuting(a.digest);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // The command is running.
  const int64_t paused_at = absl::ToUnixNanos(absl::Now());
  // Silent for well past the liveness timeout (3 x 200 ms): the scheduler drops the stream,
  // while the action, a process of its own, runs on.
  farm_->Signal("w0", SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  farm_->Signal("w0", SIGCONT);
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  EXPECT_EQ(Blob(r->result().output_files(0).digest()), "once\n");
  // The first run finished; a second run would have started after the pause.
  EXPECT_LT(TimeUtil::TimestampToNanoseconds(r->result().execution_metadata().execution_start_timestamp()),
            paused_at);
  // There was a blip: the stream ended and the worker connected again.
  std::ifstream in(log);
  std::string line;
  int connects = 0, ends = 0;
  while (std::getline(in, line)) {
    connects += line.find("w0 connected to") != std::string::npos;
    ends += line.find("stream to") != std::string::npos && line.find("ended") != std::string::npos;
  }
  EXPECT_EQ(connects, 2);
  EXPECT_EQ(ends, 1);
}

TEST_F(ExecutionTest, DrainedWorkerTakesNoNewWork) {
  StartFarm(2, 1);
  auto stub = worker::WorkerService::NewStub(farm_->channel());
  worker::DrainRequest req;
  req.set_worker_id("w0");
  worker::DrainResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Drain(&ctx, req, &resp).ok());
  for (int i = 0; i < 4; ++i) {
    ActionSpec s = Shell("true");
    s.environment.emplace_back("I", std::to_string(i));
    auto r = Run(s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->result().execution_metadata().worker(), "w1");
  }
  req.set_worker_id("nobody");
  grpc::ClientContext ctx2;
  grpc::Status s = stub->Drain(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("nobody"));
}

TEST_F(ExecutionTest, SandboxKeepsActionsInTheirInputRoot) {
  StartFarm(1, 1);
  Digest root = UploadDir({{"a.txt", "pristine\n"}});
  ActionSpec attack = Shell(
      "echo tampered >> a.txt; chmod 666 a.txt; echo tampered > a.txt; "
      // Each touch says why it failed: read-only mounts, whoever runs the test (as non-root,
      // EACCES alone would hide a sandbox that mounted /usr writable).
      "for d in /usr /etc; do echo \"$d: $(touch $d/kfarm-escape 2>&1 && echo written)\"; done; "
      "python3 -c \"import socket; socket.create_connection(('127.0.0.1', " +
      std::to_string(farm_->scheduler().port()) + "), 2)\"; echo exit=$?; cat a.txt",
      {});
  attack.input_root = root;
  attack.do_not_cache = true;
  auto r = Run(attack);
  ASSERT_TRUE(r.ok()) << r.status();
  // (The writes to a.txt fail with a hardlinked input, or land in a private copy where the
  // worker cannot give cache files away; either way the cache must stay pristine, below.)
  std::string out = Blob(r->result().stdout_digest());
  EXPECT_THAT(out, HasSubstr("exit=1"));
  for (const std::string d : {"/usr", "/etc"}) {
    EXPECT_THAT(out, HasSubstr(d + ": touch: cannot touch '" + d + "/kfarm-escape': Read-only file system"));
    EXPECT_FALSE(std::filesystem::exists(d + "/kfarm-escape"));
  }

  ActionSpec reader = Shell("cat a.txt");
  reader.input_root = root;
  reader.do_not_cache = true;
  auto clean = Run(reader);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(Blob(clean->result().stdout_digest()), "pristine\n");
}

// Each slot keeps its bubblewrap sandbox alive between actions: nothing one action leaves behind
// (a background process, a file in /tmp, a System V shared memory segment, a file in its input
// root) may reach the next one, which also sees its input root at the same fixed path, and no
// action can get at the sandbox's first process.
TEST_F(ExecutionTest, KeptAliveSandboxStartsEveryActionClean) {
  StartFarm(1, 1);
  ActionSpec litter = Shell(
      "sleep 300 & echo left > /tmp/left; ipcmk -M 4096 >/dev/null; echo left > litter; pwd");
  litter.do_not_cache = true;
  auto first = Run(litter);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->result().exit_code(), 0) << Blob(first->result().stderr_digest());
  const std::string where = Blob(first->result().stdout_digest());

  ActionSpec look = Shell(
      "pwd; ls -A /tmp; ls -A; ps -eo comm= | grep -c sleep; ipcs -m | grep -c '^0x'; "
      "cat /proc/1/environ >/dev/null 2>&1 || echo init-protected");
  look.do_not_cache = true;
  auto second = Run(look);
  ASSERT_TRUE(second.ok()) << second.status();
  // The sandbox's first process cannot be inspected or ptraced by the actions it runs.
  EXPECT_EQ(Blob(second->result().stdout_digest()), where + "0\n0\ninit-protected\n")
      << Blob(second->result().stderr_digest());
}

// The worker reads outputs and stdout outside the sandbox: an action must not make it read a host
// file through a symlink, neither by planting one in an output's directory nor by swapping its
// stdout file for one.
TEST_F(ExecutionTest, OutputsAreNeverReadThroughSymlinksOutOfTheSandbox) {
  StartFarm(1, 1);
  ActionSpec swap = Shell("rm -f /kfarm/io/stdout; ln -s /etc/passwd /kfarm/io/stdout; echo mine");
  swap.do_not_cache = true;
  auto r = Run(swap);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Blob(r->result().stdout_digest()), "mine\n");

  ActionSpec plant = Shell("rmdir out && ln -s /etc out", {"out/passwd"});
  plant.do_not_cache = true;
  auto p = Run(plant);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(p->status().message(), HasSubstr("output \"out/passwd\""));
  EXPECT_THAT(p->status().message(), HasSubstr("leads out of the input root"));
  EXPECT_EQ(p->result().output_files_size(), 0);
}

// Capabilities advertise absolute symlinks as DISALLOWED: an action that makes one as an output
// fails with FAILED_PRECONDITION (REAPI's rule), as does one that climbs out of the input root.
TEST_F(ExecutionTest, OutputSymlinksOutOfTheInputRootFailTheAction) {
  StartFarm(1, 1);
  for (const std::string target : {"/etc/passwd", "../../outside"}) {
    ActionSpec link = Shell("ln -s " + target + " link", {"link"});
    link.do_not_cache = true;
    auto r = Run(link);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status().code(), grpc::StatusCode::FAILED_PRECONDITION) << target;
    EXPECT_THAT(r->status().message(), HasSubstr("output symlink \"link\" target"));
    EXPECT_EQ(r->result().output_symlinks_size(), 0);
  }
  ActionSpec inside = Shell("mkdir -p d && ln -s d/../d link", {"link"});
  inside.do_not_cache = true;
  auto ok = Run(inside);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status().code(), grpc::StatusCode::OK) << ok->status().message();
  ASSERT_EQ(ok->result().output_symlinks_size(), 1);
  EXPECT_EQ(ok->result().output_symlinks(0).target(), "d/../d");
}

// A root worker runs actions as an unprivileged host user (nobody by default): the action's uid
// 1000 is not host root, so root-only files in the read-only system paths stay unreadable, and
// the action can still write its outputs.
TEST_F(ExecutionTest, ActionsNeverRunAsHostRoot) {
  StartFarm(1, 1);
  ActionSpec peek = Shell("cat /etc/shadow >/dev/null 2>&1 && echo read || echo denied; "
                          "echo out > out/file", {"out/file"});
  peek.do_not_cache = true;
  auto r = Run(peek);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status().code(), grpc::StatusCode::OK) << r->status().message();
  EXPECT_EQ(Blob(r->result().stdout_digest()), "denied\n");
  ASSERT_EQ(r->result().output_files_size(), 1);
}

}  // namespace
}  // namespace kfarm
