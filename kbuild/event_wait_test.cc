#include "kbuild/event_wait.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

// Every wait below would take the full minute if the event were missed: the test's timeout
// (ctest's 300 s) catches that, and the elapsed time says which.
constexpr absl::Duration kNever = absl::Minutes(1);

class EventWaitTest : public ::testing::Test {
 protected:
  EventWaitTest() {
    char tmpl[] = "/tmp/kfarm-event-wait-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~EventWaitTest() override { std::filesystem::remove_all(dir_); }

  // Runs `event` on another thread after a moment; returns how long Wait took.
  absl::Duration WaitFor(EventWait& w, absl::Span<const int> fds, std::function<void()> event) {
    std::thread t([event] {
      absl::SleepFor(absl::Milliseconds(50));
      event();
    });
    const absl::Time start = absl::Now();
    w.Wait(fds, kNever);
    const absl::Duration took = absl::Now() - start;
    t.join();
    return took;
  }

  std::string dir_;
};

TEST_F(EventWaitTest, AWriteToAWatchedFileWakesIt) {
  const std::string file = dir_ + "/capture";
  std::ofstream(file) << "";
  EventWait w;
  w.Watch(file);
  absl::Duration took = WaitFor(w, {}, [&] { std::ofstream(file, std::ios::app) << "KFARM\ta.ko\n"; });
  EXPECT_LT(took, absl::Seconds(30));
}

TEST_F(EventWaitTest, AFileAppearingInAWatchedDirectoryWakesIt) {
  EventWait w;
  w.Watch(dir_);
  absl::Duration took = WaitFor(w, {}, [&] { std::ofstream(dir_ + "/.tmp_vmlinux1.syms") << "x"; });
  EXPECT_LT(took, absl::Seconds(30));
}

TEST_F(EventWaitTest, AWatchedProcessExitingWakesIt) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    usleep(100 * 1000);
    _exit(0);
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(pidfd, 0);
  EventWait w;
  const absl::Time start = absl::Now();
  w.Wait({pidfd}, kNever);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(waitpid(child, nullptr, WNOHANG), child);  // It has exited: reaped at once.
  close(pidfd);
}

TEST_F(EventWaitTest, NothingHappeningWaitsTheTimeoutAndAnUnwatchablePathNaps) {
  EventWait w;
  const absl::Time start = absl::Now();
  w.Wait({}, absl::Milliseconds(30));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(29));
  w.Watch(dir_ + "/does/not/exist");  // Cannot be watched: the wait naps instead of hanging.
  const absl::Time again = absl::Now();
  w.Wait({}, kNever);
  EXPECT_LT(absl::Now() - again, absl::Seconds(30));
}

}  // namespace
}  // namespace kfarm
