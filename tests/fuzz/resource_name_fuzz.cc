// ByteStream resource names come straight from clients. Whatever parses must survive a round
// trip: the name kfarm would write for what it parsed parses to the same thing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/resource_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);
  if (auto r = kfarm::ParseReadResourceName(name); r.ok()) {
    auto again = kfarm::ParseReadResourceName(
        kfarm::MakeReadResourceName(r->instance_name, r->digest, r->compressor));
    if (!again.ok() || again->instance_name != r->instance_name || !(again->digest == r->digest) ||
        again->compressor != r->compressor) {
      std::abort();
    }
  }
  if (auto w = kfarm::ParseWriteResourceName(name); w.ok()) {
    auto again = kfarm::ParseWriteResourceName(kfarm::MakeWriteResourceName(
        w->instance_name, w->upload_id, w->digest, w->compressor));
    if (!again.ok() || again->instance_name != w->instance_name || !(again->digest == w->digest)) {
      std::abort();
    }
  }
  kfarm::ValidateInstanceName(name).IgnoreError();
  return 0;
}
