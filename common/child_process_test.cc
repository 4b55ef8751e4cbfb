#include "common/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace kfarm {
namespace {

std::string StatusLine(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

// A child must not outlive what started it: here the starting thread ends, as a test's or a
// crashed benchmark's would, and the child gets SIGTERM.
TEST(ChildProcessTest, ChildEndsWithTheThreadThatStartedIt) {
  pid_t child = -1;
  std::thread starter([&] {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);  // Not inherited: children start unmasked.
    child = StartTiedChild({"/bin/sleep", "30"});
    ASSERT_GT(child, 0);
    for (int i = 0; i < 200 && StatusLine(child, "Name").find("sleep") == std::string::npos; ++i) {
      usleep(10000);
    }
    EXPECT_EQ(StatusLine(child, "SigBlk").find_first_not_of("\t0"), std::string::npos)
        << StatusLine(child, "SigBlk");
  });
  starter.join();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(ChildProcessTest, LooksUpNamesInPathAndReportsAFailedExec) {
  pid_t found = StartTiedChild({"true"});
  int status = 0;
  ASSERT_EQ(waitpid(found, &status, 0), found);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  pid_t missing = StartTiedChild({"/nonexistent/kfarm-binary"});
  ASSERT_EQ(waitpid(missing, &status, 0), missing);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127) << status;
}

}  // namespace
}  // namespace kfarm
