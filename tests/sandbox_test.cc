// A hostile action against the worker's sandbox, end to end (real scheduler, real worker,
// bubblewrap): what it can write, and what the next action in the same kept-alive sandbox sees.
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

}  // namespace
}  // namespace kfarm
