// Scheduling end to end, where only a real farm shows it: a large input's cache affinity as the
// workers report what they hold, prefetched actions waiting for the slot, a tool installed late.
// The policies themselves (priority, fairness, longest first, platform grace, deduplication)
// are tested on a fake clock in scheduler/dispatcher_test.cc and build_queue_test.cc.
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "tests/execution_fixture.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;

TEST_F(ExecutionTest, ActionsGoWhereTheirLargestInputAlreadyIs) {
  StartFarm(2, 1);
  std::string big(3 << 20, '\0');
  std::mt19937 rng(7);
  for (auto& c : big) c = static_cast<char>(rng());
  std::set<std::string> workers;
  for (int i = 0; i < 6; ++i) {
    ActionSpec s = Shell("wc -c < base.btf");
    s.input_root = UploadDir({{"base.btf", big}, {"module.o", "module " + std::to_string(i)}});
    s.do_not_cache = true;
    auto r = Run(s);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Blob(r->result().stdout_digest()), std::to_string(big.size()) + "\n");
    workers.insert(r->result().execution_metadata().worker());
  }
  // Without affinity the two idle workers would alternate and both fetch the 3 MiB blob.
  EXPECT_EQ(workers.size(), 1u);
}

// Short actions are sent ahead to a busy worker (prefetch); it holds them and starts each as its
// one slot frees — never two at once — and one cancelled while held is dropped and reported.
TEST_F(ExecutionTest, ActionsSentAheadWaitForTheSlot) {
  StartFarm(1, 1);
  auto shape = [&](int i) {
    ActionSpec s = Shell("sleep 0.15; date +%s%N");
    s.environment.emplace_back("STEP", std::to_string(i));
    s.do_not_cache = true;
    return s;
  };
  ASSERT_TRUE(Run(shape(0)).ok());  // The shape is now known to be short.
  std::vector<std::future<absl::StatusOr<reapi::ExecuteResponse>>> runs;
  for (int i = 1; i <= 5; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] { return Run(shape(i)); }));
  }
  std::vector<std::pair<int64_t, int64_t>> windows;
  for (auto& f : runs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->result().exit_code(), 0);
    const auto& md = r->result().execution_metadata();
    windows.emplace_back(TimeUtil::TimestampToNanoseconds(md.execution_start_timestamp()),
                         TimeUtil::TimestampToNanoseconds(md.execution_completed_timestamp()));
  }
  std::sort(windows.begin(), windows.end());
  for (size_t i = 1; i < windows.size(); ++i) {
    EXPECT_GE(windows[i].first, windows[i - 1].second) << "two actions ran at once on one slot";
  }

  // Cancel one held behind a running action: the worker drops it and says so, so its slot is
  // free again afterwards (an action of a new shape, which is never sent ahead, still runs).
  auto running = std::async(std::launch::async, [&] { return Run(shape(6)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto held = ExecuteUntilExecuting(Prepare(shape(7)).digest);
  ASSERT_TRUE(CancelOperation(held->op.name()).ok());
  EXPECT_EQ(held->Finish().status().code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(running.get().ok());
  ActionSpec other = Shell("echo other shape");
  other.do_not_cache = true;
  auto r = Run(other);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->result().exit_code(), 0);
}

// A tool installed after the worker started (the demo's fixture installs pahole after `kfarm
// up`): the worker notices it on a heartbeat and registers again, without a restart, and an
// action that asks for that version runs on it.
TEST_F(ExecutionTest, AToolInstalledAfterTheWorkerStartedIsOffered) {
  StartFarm(0, 1);
  const std::string tools = dir_.path() + "/tools";
  std::filesystem::create_directories(tools);
  std::filesystem::create_symlink("/bin/true", tools + "/ld");  // Any program: its --version counts.
  farm_->AddWorker("w0", 1, "bubblewrap", {}, {"--tool_path=" + tools});
  ActionSpec warm = Shell("true");
  warm.do_not_cache = true;
  ASSERT_TRUE(Run(warm).ok());

  ActionSpec wants = Shell("echo linked");
  wants.platform = {{"kfarm.tool.pahole", "v9.42"}};
  wants.do_not_cache = true;
  // Not offered yet: the scheduler says so at once.
  EXPECT_EQ(ExecuteOnce(Prepare(wants).digest).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Installed: a program whose --version says v9.42, as pahole's does.
  const std::string tmp = tools + "/.pahole.new";
  std::ofstream(tmp) << "#!/bin/sh\necho v9.42\n";
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_all);
  std::filesystem::rename(tmp, tools + "/pahole");
  auto r = Run(wants);  // The client retries UNAVAILABLE, as Bazel does.
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status().code(), 0) << r->status().message();
  EXPECT_EQ(r->result().execution_metadata().worker(), "w0");
  EXPECT_EQ(Blob(r->result().stdout_digest()), "linked\n");
}

}  // namespace
}  // namespace kfarm
