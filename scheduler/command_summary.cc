#include "scheduler/command_summary.h"

#include "absl/strings/str_cat.h"

namespace kfarm {

std::string CommandSummary(const reapi::Command& command) {
  std::string out;
  for (int i = 0; i < command.arguments_size() && out.size() <= kMaxSummaryBytes; ++i) {
    const std::string& arg = command.arguments(i);
    if (i > 0) out += ' ';
    if (i == 0) {
      const size_t slash = arg.rfind('/');
      out += slash == std::string::npos || slash + 1 == arg.size() ? arg : arg.substr(slash + 1);
    } else {
      out += arg;
    }
  }
  if (out.size() <= kMaxSummaryBytes) return out;
  size_t cut = kMaxSummaryBytes;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return absl::StrCat(out, "...");
}

}  // namespace kfarm
