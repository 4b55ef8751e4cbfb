// ByteStream messages framed by hand around bytes that stay where they are. A ReadResponse or
// WriteRequest is a few small fields and one `data` field of up to a megabyte; going through the
// generated classes copies that megabyte into a protobuf string on one side and out of it on the
// other, which costs more CPU per byte than the transport itself. Here the data is sent as a slice
// pointing at its owner's memory, and received as views into the slices gRPC read it into.
// The encoding is exactly what protobuf writes (fields in number order, proto3 defaults left out).
#ifndef KFARM_COMMON_BYTESTREAM_WIRE_H_
#define KFARM_COMMON_BYTESTREAM_WIRE_H_

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/blob_access.h"

namespace kfarm {

// A received message's `data` field as pieces, valid while the frame (which holds the slices)
// is neither cleared nor reused.
struct DataPieces {
  std::vector<absl::string_view> pieces;
  int64_t size = 0;
};

struct WriteRequestFrame {
  std::string resource_name;
  int64_t write_offset = 0;
  bool finish_write = false;
  DataPieces data;
  std::vector<grpc::Slice> slices;  // Keeps `data` alive.
};

struct ReadResponseFrame {
  DataPieces data;
  std::vector<grpc::Slice> slices;
};

// INVALID_ARGUMENT naming the message and what was malformed (a truncated field, a group).
// Unknown fields are skipped, and a field that appears twice takes its last value, as protobuf
// does. The frame is overwritten, its vectors' capacity reused.
absl::Status ParseWriteRequest(const grpc::ByteBuffer& bytes, WriteRequestFrame* frame);
absl::Status ParseReadResponse(const grpc::ByteBuffer& bytes, ReadResponseFrame* frame);

// The wire form, with `data`'s bytes referenced (and `data.owner` held) rather than copied.
grpc::ByteBuffer ReadResponseBytes(BlobPiece data);
grpc::ByteBuffer WriteRequestBytes(absl::string_view resource_name, int64_t write_offset,
                                   bool finish_write, BlobPiece data);

}  // namespace kfarm

#endif  // KFARM_COMMON_BYTESTREAM_WIRE_H_
