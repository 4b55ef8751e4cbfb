#include "common/text_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

class Errors : public google::protobuf::io::ErrorCollector {
 public:
  explicit Errors(absl::string_view origin) : origin_(origin) {}
  void AddError(int line, int column, const std::string& message) override {
    absl::StrAppend(&text_, text_.empty() ? "" : "\n", origin_, ":", line + 1, ":", column + 1,
                    ": ", message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string origin_;
  std::string text_;
};

}  // namespace

absl::Status ParseTextConfig(absl::string_view text, absl::string_view origin,
                             google::protobuf::Message* out) {
  google::protobuf::TextFormat::Parser parser;
  Errors errors(origin);
  parser.RecordErrorsTo(&errors);
  if (parser.ParseFromString(std::string(text), out)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      errors.text().empty() ? absl::StrCat(origin, ": not a ", out->GetDescriptor()->name())
                            : errors.text());
}

}  // namespace kfarm
