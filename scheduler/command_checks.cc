#include "scheduler/command_checks.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/safe_path.h"

namespace kfarm {
namespace {

namespace reapi = build::bazel::remote::execution::v2;

// Sorted by code point and unique, as REAPI requires of each list of paths.
absl::Status CheckPaths(const google::protobuf::RepeatedPtrField<std::string>& paths,
                        absl::string_view field) {
  for (int i = 0; i < paths.size(); ++i) {
    std::string name = absl::StrCat("Command.", field, "[", i, "]");
    if (absl::Status s = CheckRelativePath(paths[i], name); !s.ok()) return s;
    if (i > 0 && paths[i - 1] >= paths[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " ", Quoted(paths[i]), paths[i - 1] == paths[i] ? " is listed twice" : " is out of order",
          ": output paths must be sorted and unique"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::Duration> CheckTimeout(const google::protobuf::Duration& d,
                                            absl::Duration max, absl::string_view field) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat(field, " {seconds: ", d.seconds(), " nanos: ",
                                                   d.nanos(), "} is not a valid duration"));
  }
  // Compared in seconds first: seconds * 10^9 could overflow.
  if (d.seconds() > absl::ToInt64Seconds(max) ||
      (d.seconds() == absl::ToInt64Seconds(max) && d.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", d.seconds(),
                                                   "s exceeds this server's maximum of ",
                                                   absl::FormatDuration(max)));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status CheckPlatform(const reapi::Platform& p, absl::string_view field) {
  for (int i = 1; i < p.properties_size(); ++i) {
    const auto& a = p.properties(i - 1);
    const auto& b = p.properties(i);
    if (std::tie(a.name(), a.value()) >= std::tie(b.name(), b.value())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".properties[", i, "] ", Quoted(b.name()), "=", Quoted(b.value()),
          a.name() == b.name() && a.value() == b.value() ? " is listed twice" : " is out of order",
          ": properties must be sorted by name, then value"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCommand(const reapi::Command& c) {
  if (c.arguments_size() == 0) return absl::InvalidArgumentError("Command.arguments is empty");
  if (c.arguments(0).empty()) {
    return absl::InvalidArgumentError("Command.arguments[0], the program, is empty");
  }
  for (int i = 0; i < c.environment_variables_size(); ++i) {
    const auto& v = c.environment_variables(i);
    std::string field = absl::StrCat("Command.environment_variables[", i, "]");
    if (v.name().empty() || v.name().find('=') != std::string::npos ||
        v.name().find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".name ", Quoted(v.name()),
                                                     " is not a variable name"));
    }
    if (i > 0 && c.environment_variables(i - 1).name() >= v.name()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".name ", Quoted(v.name()),
          c.environment_variables(i - 1).name() == v.name() ? " is set twice" : " is out of order",
          ": environment variables must be sorted by name and unique"));
    }
  }
  if (!c.working_directory().empty()) {
    if (absl::Status s = CheckRelativePath(c.working_directory(), "Command.working_directory");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckPaths(c.output_paths(), "output_paths"); !s.ok()) return s;
  if (absl::Status s = CheckPaths(c.output_files(), "output_files"); !s.ok()) return s;
  if (absl::Status s = CheckPaths(c.output_directories(), "output_directories"); !s.ok()) return s;
  return CheckPlatform(c.platform(), "Command.platform");
}

}  // namespace kfarm
