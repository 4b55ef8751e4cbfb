// kfarm parses ByteStream messages itself (to keep large writes zero-copy), so hostile bytes
// meet hand-written wire parsing. A frame that parses must agree with protobuf's own parser.
#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/bytestream_wire.h"
#include "google/bytestream/bytestream.pb.h"

namespace {

std::string Joined(const kfarm::DataPieces& d) {
  std::string s;
  for (auto p : d.pieces) s.append(p.data(), p.size());
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  grpc::ByteBuffer bytes(&slice, 1);
  kfarm::WriteRequestFrame write;
  if (kfarm::ParseWriteRequest(bytes, &write).ok()) {
    google::bytestream::WriteRequest reference;
    if (reference.ParseFromArray(data, static_cast<int>(size)) &&
        (reference.resource_name() != write.resource_name ||
         reference.write_offset() != write.write_offset ||
         reference.finish_write() != write.finish_write || reference.data() != Joined(write.data) ||
         static_cast<int64_t>(reference.data().size()) != write.data.size)) {
      std::abort();
    }
  }
  kfarm::ReadResponseFrame read;
  if (kfarm::ParseReadResponse(bytes, &read).ok()) {
    google::bytestream::ReadResponse reference;
    if (reference.ParseFromArray(data, static_cast<int>(size)) &&
        reference.data() != Joined(read.data)) {
      std::abort();
    }
  }
  return 0;
}
