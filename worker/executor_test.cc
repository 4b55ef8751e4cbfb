// The Executor on fakes: a remote CAS in memory, uploads kept, and commands played by a scripted
// runner instead of processes. What is tested is the Executor's own part: what the command is
// given, what its outcome becomes in the Completion (whose failure it is, what is kept), the
// metadata, and that a slot is handed on clean.
#include "worker/executor.h"

#include <deque>
#include <filesystem>
#include <fstream>

#include "common/file_util.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "worker/testing/fake_cas.h"
#include "worker/testing/kept_uploads.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// What a played command does: files it writes (relative to its working directory), what it
// prints, and how it ends.
struct Play {
  std::vector<std::pair<std::string, std::string>> writes;
  std::string stdout_text;
  absl::StatusOr<RunResult> outcome = RunResult{};
};

// Every slot's runner plays the next script, and notes what it was given and what it found.
class ScriptedRunners {
 public:
  std::deque<Play> plays;
  std::vector<RunSpec> specs;
  std::vector<std::vector<std::string>> found;  // The input root's files, at each run.
  std::vector<std::string> slots;               // Each runner's slot directory, as made.

  CommandRunnerFactory Factory() {
    return [this](const std::string& dir) -> std::unique_ptr<CommandRunner> {
      slots.push_back(dir);
      return std::make_unique<Runner>(this);
    };
  }

 private:
  class Runner : public CommandRunner {
   public:
    explicit Runner(ScriptedRunners* all) : all_(all) {}
    absl::StatusOr<RunResult> Run(const RunSpec& spec, CancelSignal*) override {
      all_->specs.push_back(spec);
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(spec.input_root)) {
        if (!e.is_directory()) {
          files.push_back(std::filesystem::relative(e.path(), spec.input_root).string());
        }
      }
      std::sort(files.begin(), files.end());
      all_->found.push_back(files);
      Play play = std::move(all_->plays.front());
      all_->plays.pop_front();
      const std::string cwd =
          spec.working_dir.empty() ? spec.input_root : spec.input_root + "/" + spec.working_dir;
      for (const auto& [path, content] : play.writes) {
        std::filesystem::create_directories(std::filesystem::path(cwd + "/" + path).parent_path());
        std::ofstream(cwd + "/" + path) << content;
      }
      if (::write(spec.stdout_fd, play.stdout_text.data(), play.stdout_text.size()) < 0) {
        return absl::InternalError("stdout not writable");
      }
      return play.outcome;
    }

   private:
    ScriptedRunners* all_;
  };
};

class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest() {
    auto cache = FileCache::Open({dir_.path() + "/cache", int64_t{1} << 30}, &cas_);
    EXPECT_TRUE(cache.ok()) << cache.status();
    cache_ = std::move(*cache);
    ExecutorOptions o;
    o.build_root = dir_.path() + "/build";
    o.worker_name = "worker-7";
    o.sandbox.bubblewrap = false;
    executor_ = std::make_unique<Executor>(&cas_, &uploads_, cache_.get(), o, runners_.Factory());
  }

  // An action reading src/in.c and writing out/prog, run in src/, with a timeout of 1.5 s.
  worker::Assignment Assign(const std::string& input = "int main;") {
    reapi::Directory src, root;
    auto* f = src.add_files();
    f->set_name("in.c");
    cas_.Add(input).ToProto(f->mutable_digest());
    const std::string src_bytes = src.SerializeAsString();
    auto* d = root.add_directories();
    d->set_name("src");
    Digest::Of(src_bytes).ToProto(d->mutable_digest());
    const std::string root_bytes = root.SerializeAsString();

    worker::Assignment a;
    a.set_execution_id("e-" + std::to_string(++assigned_));
    Digest::Of("action " + std::to_string(assigned_)).ToProto(a.mutable_action_digest());
    Digest::Of(root_bytes).ToProto(a.mutable_action()->mutable_input_root_digest());
    a.add_input_directory_blobs(root_bytes);
    a.add_input_directory_blobs(src_bytes);
    auto* c = a.mutable_command();
    c->add_arguments("cc");
    c->add_arguments("in.c");
    auto* env = c->add_environment_variables();
    env->set_name("LANG");
    env->set_value("C");
    c->set_working_directory("src");
    c->add_output_paths("out/prog");
    *a.mutable_timeout() = TimeUtil::MillisecondsToDuration(1500);
    *a.mutable_queued_timestamp() = TimeUtil::SecondsToTimestamp(1000);
    return a;
  }

  TempDir dir_;
  FakeCas cas_;
  KeptUploads uploads_;
  std::unique_ptr<FileCache> cache_;
  ScriptedRunners runners_;
  std::unique_ptr<Executor> executor_;
  int assigned_ = 0;
};

TEST_F(ExecutorTest, RunsTheCommandAsGivenAndItsOutputsBecomeTheResult) {
  runners_.plays.push_back({{{"out/prog", "binary"}}, "compiled\n", RunResult{}});
  worker::Completion c = executor_->Run(Assign(), nullptr);

  ASSERT_EQ(runners_.specs.size(), 1u);
  const RunSpec& spec = runners_.specs[0];
  EXPECT_THAT(spec.argv, ElementsAre("cc", "in.c"));
  EXPECT_THAT(spec.env, ElementsAre(Pair("LANG", "C")));
  EXPECT_EQ(spec.working_dir, "src");
  EXPECT_EQ(spec.timeout, absl::Milliseconds(1500));
  EXPECT_THAT(runners_.found[0], ElementsAre("src/in.c"));

  EXPECT_EQ(c.execution_id(), "e-1");
  EXPECT_EQ(c.response().status().code(), 0) << c.response().status().message();
  EXPECT_TRUE(c.infrastructure_failure().empty());
  const reapi::ActionResult& r = c.response().result();
  EXPECT_EQ(r.exit_code(), 0);
  ASSERT_EQ(r.output_files_size(), 1);
  EXPECT_EQ(r.output_files(0).path(), "out/prog");
  EXPECT_EQ(uploads_.kept[*Digest::FromProto(r.output_files(0).digest())], "binary");
  EXPECT_EQ(uploads_.kept[*Digest::FromProto(r.stdout_digest())], "compiled\n");

  const auto& md = r.execution_metadata();
  EXPECT_EQ(md.worker(), "worker-7");
  EXPECT_EQ(md.queued_timestamp().seconds(), 1000);
  const std::vector<google::protobuf::Timestamp> steps = {
      md.worker_start_timestamp(),       md.input_fetch_start_timestamp(),
      md.input_fetch_completed_timestamp(), md.execution_start_timestamp(),
      md.execution_completed_timestamp(), md.output_upload_start_timestamp(),
      md.output_upload_completed_timestamp(), md.worker_completed_timestamp()};
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_GT(TimeUtil::TimestampToNanoseconds(steps[i]), 0) << "step " << i;
    if (i > 0) EXPECT_LE(steps[i - 1], steps[i]) << "step " << i;
  }
  ASSERT_TRUE(md.has_virtual_execution_duration());  // The command's own time, nothing else.
  EXPECT_EQ(md.virtual_execution_duration(),
            md.execution_completed_timestamp() - md.execution_start_timestamp());
}

TEST_F(ExecutorTest, ATimeoutIsTheActionsFailureAndWhatItWroteIsKept) {
  RunResult timed_out;
  timed_out.exit_code = -1;
  timed_out.timed_out = true;
  runners_.plays.push_back({{{"out/prog", "half a binary"}}, "compiling...\n", timed_out});
  const worker::Assignment a = Assign();
  worker::Completion c = executor_->Run(a, nullptr);

  EXPECT_EQ(c.response().status().code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(c.response().status().message(), HasSubstr("timed out after 1.5s"));
  EXPECT_THAT(c.response().status().message(), HasSubstr(DescribeDigest(a.action_digest())));
  EXPECT_TRUE(c.infrastructure_failure().empty());  // Not retried elsewhere: it would time out.
  const reapi::ActionResult& r = c.response().result();
  EXPECT_EQ(uploads_.kept[*Digest::FromProto(r.stdout_digest())], "compiling...\n");
  ASSERT_EQ(r.output_files_size(), 1);
  EXPECT_EQ(uploads_.kept[*Digest::FromProto(r.output_files(0).digest())], "half a binary");
}

TEST_F(ExecutorTest, CancelsAndLimitsAreTheActionsFailures) {
  RunResult cancelled, limited;
  cancelled.cancelled = true;
  limited.limit_exceeded = "memory above its 64 MiB limit";
  limited.exit_code = 137;
  runners_.plays.push_back({{}, "", cancelled});
  runners_.plays.push_back({{}, "", limited});

  worker::Completion c = executor_->Run(Assign(), nullptr);
  EXPECT_EQ(c.response().status().code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(c.infrastructure_failure().empty());
  c = executor_->Run(Assign(), nullptr);
  EXPECT_EQ(c.response().status().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(c.response().status().message(), HasSubstr("memory above its 64 MiB limit"));
  EXPECT_EQ(c.response().result().exit_code(), 137);
  EXPECT_TRUE(c.infrastructure_failure().empty());
}

TEST_F(ExecutorTest, ASandboxThatCannotRunIsTheWorkersFailure) {
  runners_.plays.push_back({{}, "", absl::InternalError("bubblewrap: setting up uid map failed")});
  worker::Completion c = executor_->Run(Assign(), nullptr);
  EXPECT_NE(c.response().status().code(), 0);
  EXPECT_THAT(c.infrastructure_failure(), HasSubstr("worker worker-7"));
  EXPECT_THAT(c.infrastructure_failure(), HasSubstr("uid map"));
}

TEST_F(ExecutorTest, AnInputMissingFromTheCasIsNamedAndNothingRuns) {
  worker::Assignment a = Assign();
  reapi::Directory src;
  auto* f = src.add_files();
  f->set_name("gone.h");
  const Digest gone = Digest::Of("never uploaded");
  gone.ToProto(f->mutable_digest());
  reapi::Directory root;
  auto* d = root.add_directories();
  d->set_name("src");
  Digest::Of(src.SerializeAsString()).ToProto(d->mutable_digest());
  Digest::Of(root.SerializeAsString()).ToProto(a.mutable_action()->mutable_input_root_digest());
  a.clear_input_directory_blobs();
  a.add_input_directory_blobs(root.SerializeAsString());
  a.add_input_directory_blobs(src.SerializeAsString());

  worker::Completion c = executor_->Run(a, nullptr);
  EXPECT_TRUE(runners_.specs.empty());
  EXPECT_NE(c.response().status().code(), 0);
  EXPECT_THAT(c.response().status().message(), HasSubstr(gone.ToString()));
}

TEST_F(ExecutorTest, ASlotIsHandedOnCleanAndItsRunnerKept) {
  runners_.plays.push_back(
      {{{"out/prog", "1"}, {"scratch/left-behind", "x"}}, "first\n", RunResult{}});
  runners_.plays.push_back({{{"out/prog", "2"}}, "", RunResult{}});
  executor_->Run(Assign("first input"), nullptr);
  worker::Completion c = executor_->Run(Assign("second input"), nullptr);

  EXPECT_EQ(runners_.slots.size(), 1u);  // One slot, its runner made once and kept.
  EXPECT_THAT(runners_.found[1], ElementsAre("src/in.c"));  // Nothing of the first action.
  const reapi::ActionResult& r = c.response().result();
  const std::string out =
      r.has_stdout_digest() ? uploads_.kept[*Digest::FromProto(r.stdout_digest())] : "";
  EXPECT_EQ(out, "");  // The first action's stdout is not carried over.
  ASSERT_EQ(r.output_files_size(), 1);
  EXPECT_EQ(uploads_.kept[*Digest::FromProto(r.output_files(0).digest())], "2");
}

}  // namespace
}  // namespace kfarm
