// What one `kfarm modfinal` run did when, for the pipelining plot (bench/plot_timeline.sh):
// the local make, the vmlinux link, and each module's link and BTF step as the client saw them
// (from its Execute call to the result). Written as tab-separated lines, seconds from the start:
//   PHASE  NAME  START  END  CACHED
// PHASE is make, vmlinux, link or btf; NAME the module's .ko (or "-"); CACHED 1 for an
// action-cache hit.
#ifndef KFARM_KBUILD_TIMELINE_H_
#define KFARM_KBUILD_TIMELINE_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kfarm {

class Timeline {
 public:
  explicit Timeline(absl::Time start) : start_(start) {}

  void Add(std::string phase, std::string name, absl::Time from, absl::Time to, bool cached);
  // Sorted by start; errors name the file.
  absl::Status Write(const std::string& path) const;
  std::string Text() const;

 private:
  struct Span {
    std::string phase, name;
    absl::Duration from, to;
    bool cached;
  };
  const absl::Time start_;
  mutable std::mutex mu_;
  std::vector<Span> spans_;
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_TIMELINE_H_
