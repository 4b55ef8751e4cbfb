#include "common/fast_checksum.h"

#include <xxhash.h>

namespace kfarm {

struct FastChecksum::State {
  XXH3_state_t* s = XXH3_createState();
  ~State() { XXH3_freeState(s); }
};

FastChecksum::FastChecksum() : state_(std::make_unique<State>()) { XXH3_64bits_reset(state_->s); }
FastChecksum::~FastChecksum() = default;

void FastChecksum::Update(absl::string_view data) {
  XXH3_64bits_update(state_->s, data.data(), data.size());
}

uint64_t FastChecksum::Finish() const {
  uint64_t h = XXH3_64bits_digest(state_->s);
  return h == 0 ? 1 : h;
}

uint64_t FastChecksum::Of(absl::string_view data) {
  FastChecksum c;
  c.Update(data);
  return c.Finish();
}

}  // namespace kfarm
