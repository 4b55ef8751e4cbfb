#include "scheduler/command_summary.h"

#include <gtest/gtest.h>

namespace kfarm {
namespace {

reapi::Command Cmd(std::initializer_list<std::string> args) {
  reapi::Command c;
  for (const auto& a : args) c.add_arguments(a);
  return c;
}

TEST(CommandSummaryTest, TheProgramsBaseNameAndItsArguments) {
  EXPECT_EQ(CommandSummary(Cmd({"/usr/bin/ld", "-r", "-o", "a.ko", "a.o"})), "ld -r -o a.ko a.o");
  EXPECT_EQ(CommandSummary(Cmd({"dir/"})), "dir/");
  EXPECT_EQ(CommandSummary(reapi::Command()), "");
}

TEST(CommandSummaryTest, LongCommandsAreCutWithoutSplittingACharacter) {
  // "é" is two bytes: with an odd offset one of them lands on the cut.
  std::string word;
  for (int i = 0; i < 200; ++i) word += "\xc3\xa9";
  std::string s = CommandSummary(Cmd({"x", word}));
  ASSERT_EQ(s.substr(s.size() - 3), "...");
  const std::string kept = s.substr(0, s.size() - 3);
  EXPECT_LE(kept.size(), kMaxSummaryBytes);
  EXPECT_EQ((kept.size() - 2) % 2, 0u);  // "x " then whole characters only.
}

}  // namespace
}  // namespace kfarm
