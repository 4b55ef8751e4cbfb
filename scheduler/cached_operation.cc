#include "scheduler/cached_operation.h"

#include "absl/strings/escaping.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr absl::string_view kPrefix = "operations/cached-";

}  // namespace

std::string CachedOperationName(absl::string_view instance, const Digest& action) {
  std::string name = absl::StrCat(kPrefix, action.hex(), "-", action.size());
  // '.' is outside the web-safe alphabet, so the instance (which may hold '/' or '-') parses back.
  if (!instance.empty()) absl::StrAppend(&name, ".", absl::WebSafeBase64Escape(instance));
  return name;
}

std::optional<CachedOperationRef> ParseCachedOperationName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kPrefix) || name.size() < 66 || name[64] != '-') {
    return std::nullopt;
  }
  absl::string_view hex = name.substr(0, 64);
  name.remove_prefix(65);
  absl::string_view size_text = name.substr(0, name.find('.'));
  CachedOperationRef ref;
  if (size_text.size() < name.size()) {
    std::string instance;
    absl::string_view encoded = name.substr(size_text.size() + 1);
    if (!absl::WebSafeBase64Unescape(encoded, &instance) || instance.empty()) return std::nullopt;
    // One spelling per name: a re-encoding must give the same text back.
    if (absl::WebSafeBase64Escape(instance) != encoded) return std::nullopt;
    ref.instance = std::move(instance);
  }
  int64_t size = 0;
  if (!Digest::ParseSize(size_text, &size)) return std::nullopt;
  auto digest = Digest::FromHexAndSize(hex, size);
  if (!digest.ok()) return std::nullopt;
  ref.action = *digest;
  return ref;
}

absl::StatusOr<OperationView> CachedOperation(ActionCache* cache, const std::string& name,
                                              const CachedOperationRef& ref) {
  auto hit = cache->Get(ref.instance, ref.action);
  if (!hit.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "operation ", Quoted(name), " was answered from the action cache, which no longer holds "
        "the result of action ", ref.action.ToString(), " on instance ", Quoted(ref.instance),
        " (", hit.status().message(), "); execute the action again"));
  }
  return CachedOperationView(name, ref.action, std::move(*hit));
}

OperationView CachedOperationView(const std::string& name, const Digest& action,
                                  reapi::ActionResult result) {
  OperationView v;
  v.name = name;
  v.action_digest = action;
  v.stage = reapi::ExecutionStage::COMPLETED;
  v.done = true;
  *v.response.mutable_result() = std::move(result);
  v.response.set_cached_result(true);
  return v;
}

}  // namespace kfarm
