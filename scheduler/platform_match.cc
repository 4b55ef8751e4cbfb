#include "scheduler/platform_match.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kfarm {

OfferedPlatform::OfferedPlatform(
    const google::protobuf::RepeatedPtrField<build::bazel::remote::execution::v2::Platform::Property>&
        props) {
  for (const auto& p : props) values_[p.name()].insert(p.value());
}

bool OfferedPlatform::Satisfies(const build::bazel::remote::execution::v2::Platform& wanted) const {
  for (const auto& p : wanted.properties()) {
    auto it = values_.find(p.name());
    if (it == values_.end() || !it->second.contains(p.value())) return false;
  }
  return true;
}

std::string OfferedPlatform::Offered(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return "";
  std::vector<std::string> v(it->second.begin(), it->second.end());
  std::sort(v.begin(), v.end());
  return absl::StrJoin(v, "|");
}

std::string OfferedPlatform::Label() const {
  std::vector<std::string> names;
  for (const auto& [name, values] : values_) names.push_back(name);
  if (names.empty()) return "(none)";
  std::sort(names.begin(), names.end());
  std::vector<std::string> parts;
  for (const auto& n : names) parts.push_back(absl::StrCat(n, "=", Offered(n)));
  return absl::StrJoin(parts, ",");
}

}  // namespace kfarm
