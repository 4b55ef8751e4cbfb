#include "kbuild/timeline.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/file_util.h"

namespace kfarm {

void Timeline::Add(std::string phase, std::string name, absl::Time from, absl::Time to,
                   bool cached) {
  std::lock_guard<std::mutex> l(mu_);
  spans_.push_back({std::move(phase), name.empty() ? "-" : std::move(name), from - start_,
                    to - start_, cached});
}

std::string Timeline::Text() const {
  std::vector<Span> spans;
  {
    std::lock_guard<std::mutex> l(mu_);
    spans = spans_;
  }
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.from < b.from; });
  std::string out = "# phase\tname\tstart_s\tend_s\tcached\n";
  for (const Span& s : spans) {
    absl::StrAppendFormat(&out, "%s\t%s\t%.4f\t%.4f\t%d\n", s.phase, s.name,
                          absl::ToDoubleSeconds(s.from), absl::ToDoubleSeconds(s.to),
                          s.cached ? 1 : 0);
  }
  return out;
}

absl::Status Timeline::Write(const std::string& path) const {
  return WriteFileAtomic(path, Text(), false);
}

}  // namespace kfarm
