// A hostile action against the worker's sandbox, end to end (real scheduler, real worker,
// bubblewrap): what it can write, and what the next action in the same kept-alive sandbox sees.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/execution_fixture.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Everywhere an action might leave something for the next one.
constexpr char kPlaces[] =
    "/x /dev/x /dev/shm/x /dev/mqueue/x /kfarm/x /kfarm/build/x /kfarm/io/x /tmp/x /tmp/suid";

class SandboxTest : public ExecutionTest {
 protected:
  std::string Stdout(const std::string& script) {
    ActionSpec spec = Shell(script);
    spec.do_not_cache = true;
    auto r = Run(spec);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status().code(), grpc::StatusCode::OK) << r->status().message();
    return Blob(r->result().stdout_digest());
  }

  // A farm of one worker with one slot and these limits (kfarm.config.ActionLimits, text).
  void StartLimitedFarm(const std::string& limits) {
    const std::string config = dir_.path() + "/limited-worker.conf";
    std::ofstream(config) << "limits { " << limits << " }\n";
    farm_ = std::make_unique<Farm>(dir_.path(), kFastConfig);
    ASSERT_GT(farm_->scheduler().port(), 0);
    farm_->AddWorker("w0", 1, "bubblewrap", {}, {"--config=" + config});
    cas_ = std::make_unique<CasClient>(farm_->channel(), "");
    exec_ = std::make_unique<ExecutionClient>(farm_->channel(), "");
    ASSERT_EQ(Stdout("echo up"), "up\n");
  }

  // Runs `script` (a bomb): the final response, which must be an error naming `limit`, after
  // which the worker still runs actions.
  void ExpectStoppedAt(const std::string& script, const std::string& limit) {
    ActionSpec spec = Shell(script);
    spec.do_not_cache = true;
    spec.timeout = absl::Seconds(120);  // Far longer than the limit takes to reach.
    auto r = Run(spec);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status().code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << r->status().message();
    EXPECT_THAT(r->status().message(), HasSubstr(limit));
    EXPECT_NE(r->result().exit_code(), 0);
    EXPECT_EQ(Stdout("echo still here"), "still here\n") << "the worker after " << limit;
  }
};

TEST_F(SandboxTest, NothingAnActionWritesReachesTheNextAction) {
  StartFarm(1, 1);  // One slot: both actions run in the same kept-alive sandbox.
  const std::string dropped = Stdout(absl::StrCat(
      "for p in ", kPlaces, "; do (: > $p) 2>/dev/null && echo \"wrote $p\"; done; "
      // A setuid copy of the shell, left behind for whoever comes next.
      "cp /bin/sh /tmp/suid && chmod 4755 /tmp/suid && echo 'made /tmp/suid setuid'; "
      "mkdir -p /tmp/deep/er && echo left > /tmp/deep/er/x && echo 'wrote /tmp/deep/er/x'"));
  // The test can fail: the places an action may write, it did write.
  EXPECT_THAT(dropped, HasSubstr("wrote /tmp/x"));
  EXPECT_THAT(dropped, HasSubstr("wrote /dev/shm/x"));
  EXPECT_THAT(dropped, HasSubstr("wrote /dev/mqueue/x"));
  EXPECT_THAT(dropped, HasSubstr("made /tmp/suid setuid"));
  // bubblewrap's own tmpfs (/, /kfarm, /dev) and the stdout/stderr directory are read-only.
  for (const char* p : {"/x", "/dev/x", "/kfarm/x", "/kfarm/build/x", "/kfarm/io/x"}) {
    EXPECT_THAT(dropped, Not(HasSubstr(absl::StrCat("wrote ", p, "\n")))) << p;
  }

  const std::string found = Stdout(absl::StrCat(
      "for p in ", kPlaces, " /tmp/deep; do [ -e $p ] && echo \"found $p\"; done; "
      "ls -A /tmp /dev/shm /dev/mqueue | grep -v ':$' | grep . | sed 's/^/entry /'; true"));
  EXPECT_EQ(found, "");
}

TEST_F(SandboxTest, ASetuidBinaryGivesNoPrivilege) {
  StartFarm(1, 1);
  // Made by the action itself (so owned by its user), on mounts that ignore setuid anyway.
  const std::string out = Stdout(
      "cp /bin/sh ./suid && chmod 4755 ./suid && ./suid -p -c 'id -u; cat /etc/shadow' "
      "2>/dev/null; echo \"status $?\"");
  EXPECT_THAT(out, Not(HasSubstr("root:")));
  EXPECT_THAT(out, HasSubstr("status 1"));
  EXPECT_THAT(out, Not(::testing::StartsWith("0\n")));
}

// The memory and process limits need cgroups the worker can make: cgroup v2 offering the
// memory and pids controllers, or v1's hierarchies writable (root). Elsewhere the worker runs
// actions uncapped in those two, and says so when it starts.
bool HaveCgroups() {
  std::ifstream v2("/sys/fs/cgroup/cgroup.controllers");
  std::string controllers((std::istreambuf_iterator<char>(v2)), std::istreambuf_iterator<char>());
  if (controllers.find("memory") != std::string::npos && controllers.find("pids") != std::string::npos) {
    return ::access("/sys/fs/cgroup", W_OK) == 0;
  }
  return ::access("/sys/fs/cgroup/memory", W_OK) == 0 && ::access("/sys/fs/cgroup/pids", W_OK) == 0;
}

TEST_F(SandboxTest, AForkBombStopsAtTheProcessLimit) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs root and cgroups";
  StartLimitedFarm("max_processes: 64");
  ExpectStoppedAt("bomb() { bomb | bomb; }; bomb", "limit of 64 processes per action (limits.max_processes)");
}

TEST_F(SandboxTest, AnAllocationBombStopsAtTheMemoryLimit) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs root and cgroups";
  StartLimitedFarm("memory_bytes: 134217728");
  // tail keeps the last ten lines; /dev/zero has no line end, so it keeps everything.
  ExpectStoppedAt("tail /dev/zero", "memory limit of 128 MiB per action (limits.memory_bytes)");
}

TEST_F(SandboxTest, AFileOverTheSizeLimitStopsTheWriter) {
  StartLimitedFarm("max_file_bytes: 16777216");
  ExpectStoppedAt("dd if=/dev/zero of=big bs=1M count=64 2>/dev/null",
                  "file size limit of 16 MiB (limits.max_file_bytes)");
}

TEST_F(SandboxTest, ADiskFillerStopsAtTheWorkersReserve) {
  struct statvfs fs;
  ASSERT_EQ(::statvfs(dir_.path().c_str(), &fs), 0);
  const int64_t free_bytes = static_cast<int64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < (int64_t{4} << 30)) GTEST_SKIP() << "under 4 GiB free";
  // A reserve 512 MiB under what is free now: the filler, writing up to 3 GiB, crosses it.
  StartLimitedFarm(absl::StrCat("disk_reserve_bytes: ", free_bytes - (int64_t{512} << 20)));
  ExpectStoppedAt(
      "i=0; while [ $i -lt 96 ]; do dd if=/dev/zero of=fill$i bs=1M count=32 2>/dev/null; "
      "i=$((i + 1)); done",
      "(limits.disk_reserve_bytes) while the action ran; it was stopped");
}

// A sandbox that cannot start is the worker's failure, not the action's result: the scheduler
// runs the action again (on another worker when there is one), and fails it only after
// max_worker_deaths such failures, naming each.
TEST_F(SandboxTest, ASandboxThatCannotStartIsRetriedNotReported) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs a root worker, whose sandboxes run as another user";
  // A directory the action user cannot reach, given to bubblewrap to bind: it cannot start.
  const std::string secret = dir_.path() + "/secret";
  ASSERT_EQ(::mkdir(secret.c_str(), 0700), 0);
  const std::string config = dir_.path() + "/broken-worker.conf";
  std::ofstream out(config);
  for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"}) {
    out << "readonly_paths: \"" << p << "\"\n";
  }
  out << "readonly_paths: \"" << secret << "\"\n";
  out.close();
  farm_ = std::make_unique<Farm>(dir_.path(), kFastConfig);
  farm_->AddWorker("broken", 1, "bubblewrap", {}, {"--config=" + config});
  cas_ = std::make_unique<CasClient>(farm_->channel(), "");
  exec_ = std::make_unique<ExecutionClient>(farm_->channel(), "");
  ActionSpec spec = Shell("echo ran");
  spec.do_not_cache = true;
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(r->status().message(), HasSubstr("died or failed 3 times (worker broken: "));
  EXPECT_THAT(r->status().message(), HasSubstr(secret));  // bubblewrap's own words, with the path.

  // A healthy worker joins: the next action runs there (the broken one rests after three
  // failures in a row).
  farm_->AddWorker("healthy", 1);
  auto ok = Run(spec);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status().code(), grpc::StatusCode::OK) << ok->status().message();
  EXPECT_EQ(ok->result().execution_metadata().worker(), "healthy");
  EXPECT_EQ(Blob(ok->result().stdout_digest()), "ran\n");
}

}  // namespace
}  // namespace kfarm
