#include "common/spawn.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file_util.h"
#include "common/tool_versions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

class SpawnTest : public ::testing::Test {
 protected:
  SpawnTest() {
    char tmpl[] = "/tmp/kfarm-spawn-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~SpawnTest() override { std::filesystem::remove_all(dir_); }

  static int Wait(pid_t pid) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }

  std::string dir_;
};

TEST_F(SpawnTest, ExactlyItsEnvironmentDirectoryAndFilesOnBothPaths) {
  for (bool fork_path : {false, true}) {
    SpawnOptions o;
    o.argv = {"/bin/sh", "-c", "echo \"[$KFARM_X][$HOME]\"; pwd; echo oops >&2"};
    o.set_env = true;
    o.env = {"KFARM_X=one two"};
    o.cwd = dir_;
    o.out = SpawnStdio::Path(dir_ + "/out");
    o.err = SpawnStdio::Path(dir_ + "/err");
    o.max_file_bytes = fork_path ? int64_t{1} << 30 : 0;  // A child step: the fork path.
    auto pid = Spawn(o);
    ASSERT_TRUE(pid.ok()) << pid.status();
    EXPECT_EQ(Wait(*pid), 0);
    EXPECT_EQ(ReadFile(dir_ + "/out").value_or(""), "[one two][]\n" + dir_ + "\n") << fork_path;
    EXPECT_EQ(ReadFile(dir_ + "/err").value_or(""), "oops\n");
  }
}

TEST_F(SpawnTest, AnExecutableStillOpenForWritingIsRetriedUntilClosed) {
  const std::string tool = dir_ + "/fresh-tool";
  int fd = open(tool.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  ASSERT_GE(fd, 0);
  const std::string body = "#!/bin/sh\nexit 7\n";
  ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  // Held open for writing (as a concurrent fork's leaked descriptor would), then let go.
  std::thread closer([fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    close(fd);
  });
  SpawnOptions o;
  o.argv = {tool};
  auto pid = Spawn(o);
  closer.join();
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(Wait(*pid), 7);
}

TEST_F(SpawnTest, AProgramThatCannotStartIsAnErrorNamingIt) {
  SpawnOptions o;
  o.argv = {dir_ + "/no such tool", "--flag"};
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(pid.status().message(), HasSubstr("no such tool --flag"));
  o.argv.clear();
  EXPECT_EQ(Spawn(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SpawnTest, ItsOwnProcessGroupAndNoBlockedSignals) {
  SpawnOptions o;
  // grep reads its own mask, inherited through exec: a shell blocks signals while it forks.
  o.argv = {"/bin/sh", "-c", "cut -d' ' -f5 /proc/$$/stat; exec grep SigBlk /proc/self/status"};
  o.own_process_group = true;
  o.out = SpawnStdio::Path(dir_ + "/out");
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);  // This thread blocks SIGTERM; the child must not.
  auto pid = Spawn(o);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(Wait(*pid), 0);
  const std::string out = ReadFile(dir_ + "/out").value_or("");
  EXPECT_THAT(out, HasSubstr(std::to_string(*pid) + "\n"));
  EXPECT_THAT(out, HasSubstr("SigBlk:\t0000000000000000"));
}

TEST_F(SpawnTest, CapturedOutputComesWithoutAShell) {
  auto c = RunCapturingStdout({"/bin/echo", "$HOME", "a;b", "'q'"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->out, "$HOME a;b 'q'\n");
  EXPECT_EQ(c->exit_code, 0);
  auto limited = RunCapturingStdout({"/bin/sh", "-c", "yes | head -c 100000; exit 3"}, 10);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->out, "y\ny\ny\ny\ny\n");
  EXPECT_EQ(limited->exit_code, 3);
}

// A tool in a directory whose name a shell would split or expand is still asked its version.
TEST_F(SpawnTest, AToolsVersionWhateverItsPath) {
  std::filesystem::create_directories(dir_ + "/a b;c");
  const std::string tool = Script("a b;c/pahole", "echo \"v1.27 $1\"\necho second line\n");
  EXPECT_EQ(ToolVersion(tool), "v1.27 --version");
  EXPECT_EQ(ToolVersion(dir_ + "/missing"), "");
}

}  // namespace
}  // namespace kfarm
