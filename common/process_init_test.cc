#include "common/process_init.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace kfarm {
namespace {

// The worker writes each action's request to its sandbox through a pipe; a sandbox that died
// first must cost an EPIPE, not the worker.
TEST(ProcessInitTest, AServerSurvivesWritingToAPipeNobodyReads) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    InitServerProcess();
    int fds[2];
    if (pipe(fds) != 0) _exit(2);
    close(fds[0]);
    const ssize_t n = write(fds[1], "request", 7);
    _exit(n < 0 && errno == EPIPE ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace kfarm
