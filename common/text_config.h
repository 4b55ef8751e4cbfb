// Configuration files in protobuf text format, with errors that point at the file, line and
// column, as a compiler's do.
#ifndef KFARM_COMMON_TEXT_CONFIG_H_
#define KFARM_COMMON_TEXT_CONFIG_H_

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kfarm {

// Parses `text` into `out`; INVALID_ARGUMENT with "ORIGIN:LINE:COLUMN: what" on each error.
absl::Status ParseTextConfig(absl::string_view text, absl::string_view origin,
                             google::protobuf::Message* out);

}  // namespace kfarm

#endif  // KFARM_COMMON_TEXT_CONFIG_H_
