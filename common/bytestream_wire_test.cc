#include "common/bytestream_wire.h"

#include "gmock/gmock.h"
#include "google/bytestream/bytestream.pb.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using google::bytestream::ReadResponse;
using google::bytestream::WriteRequest;
using ::testing::HasSubstr;

// `bytes` as a ByteBuffer cut into slices at the given offsets, as a transport delivers it.
grpc::ByteBuffer Cut(const std::string& bytes, std::vector<size_t> cuts) {
  cuts.push_back(bytes.size());
  std::vector<grpc::Slice> slices;
  size_t start = 0;
  for (size_t c : cuts) {
    slices.emplace_back(bytes.data() + start, c - start);
    start = c;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Joined(const DataPieces& d) {
  std::string s;
  for (absl::string_view p : d.pieces) s.append(p.data(), p.size());
  EXPECT_EQ(static_cast<int64_t>(s.size()), d.size);
  return s;
}

std::string Flat(const grpc::ByteBuffer& b) {
  grpc::Slice s;
  EXPECT_TRUE(b.DumpToSingleSlice(&s).ok());
  return std::string(reinterpret_cast<const char*>(s.begin()), s.size());
}

WriteRequest Sample(const std::string& name, int64_t offset, bool finish, size_t data_size) {
  WriteRequest r;
  r.set_resource_name(name);
  r.set_write_offset(offset);
  r.set_finish_write(finish);
  std::string data(data_size, '\0');
  for (size_t i = 0; i < data_size; ++i) data[i] = static_cast<char>(i * 131 + 7);
  r.set_data(data);
  return r;
}

TEST(ByteStreamWireTest, ParsesWhatProtobufWritesWhereverTheSlicesAreCut) {
  const WriteRequest want =
      Sample("inst/uploads/u1/blobs/" + std::string(64, 'a') + "/300", 1 << 20, true, 300);
  const std::string bytes = want.SerializeAsString();
  WriteRequestFrame got;
  for (size_t a = 0; a <= bytes.size(); a += 3) {
    for (size_t b = a; b <= bytes.size(); b += 17) {
      ASSERT_TRUE(ParseWriteRequest(Cut(bytes, {a, b}), &got).ok()) << a << " " << b;
      EXPECT_EQ(got.resource_name, want.resource_name());
      EXPECT_EQ(got.write_offset, want.write_offset());
      EXPECT_TRUE(got.finish_write);
      EXPECT_EQ(Joined(got.data), want.data());
    }
  }
}

TEST(ByteStreamWireTest, EncodesExactlyAsProtobufDoes) {
  for (const WriteRequest& r :
       {Sample("n", 0, false, 0), Sample("", 5, false, 10), Sample("x/y", 0, true, 200),
        Sample("big", (int64_t{1} << 40) + 3, true, 70000), Sample("neg", -1, false, 1)}) {
    auto owner = std::make_shared<std::string>(r.data());
    BlobPiece piece{*owner, owner};
    EXPECT_EQ(Flat(WriteRequestBytes(r.resource_name(), r.write_offset(), r.finish_write(), piece)),
              r.SerializeAsString())
        << r.resource_name();
  }
  ReadResponse rr;
  rr.set_data(std::string(1000, 'z'));
  auto owner = std::make_shared<std::string>(rr.data());
  EXPECT_EQ(Flat(ReadResponseBytes({*owner, owner})), rr.SerializeAsString());
  EXPECT_EQ(Flat(ReadResponseBytes({})), ReadResponse().SerializeAsString());
}

TEST(ByteStreamWireTest, DataReferencesItsOwnerInsteadOfCopying) {
  auto owner = std::make_shared<std::string>(4096, 'q');
  grpc::ByteBuffer b = WriteRequestBytes("n", 0, true, {*owner, owner});
  EXPECT_EQ(owner.use_count(), 2);  // The slice holds the owner...
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(b.Dump(&slices).ok());
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(reinterpret_cast<const char*>(slices[1].begin()), owner->data());  // ...not a copy.
  slices.clear();
  b.Clear();
  EXPECT_EQ(owner.use_count(), 1);
}

TEST(ByteStreamWireTest, SkipsUnknownFieldsAndTakesTheLastOfARepeatedOne) {
  WriteRequest first = Sample("old", 1, false, 5);
  WriteRequest second = Sample("new", 9, true, 7);
  std::string bytes = first.SerializeAsString();
  bytes += std::string("\x28\x96\x01", 3);                 // Field 5, varint 150.
  bytes += std::string("\x35\x01\x02\x03\x04", 5);         // Field 6, fixed32.
  bytes += std::string("\x39", 1) + std::string(8, '\7');  // Field 7, fixed64.
  bytes += std::string("\x42\x02hi", 4);                   // Field 8, length-delimited.
  bytes += second.SerializeAsString();
  WriteRequestFrame got;
  ASSERT_TRUE(ParseWriteRequest(Cut(bytes, {4, 20}), &got).ok());
  EXPECT_EQ(got.resource_name, "new");
  EXPECT_EQ(got.write_offset, 9);
  EXPECT_TRUE(got.finish_write);
  EXPECT_EQ(Joined(got.data), second.data());

  ReadResponseFrame read;
  ASSERT_TRUE(ParseReadResponse(Cut(bytes, {11}), &read).ok());
  EXPECT_EQ(Joined(read.data), second.data());
}

TEST(ByteStreamWireTest, MalformedMessagesNameTheFieldAndTheProblem) {
  const std::string bytes = Sample("name", 3, true, 100).SerializeAsString();
  WriteRequestFrame got;
  absl::Status s = ParseWriteRequest(Cut(bytes.substr(0, bytes.size() - 1), {}), &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("WriteRequest is malformed: field 10 claims 100 bytes"));

  s = ParseWriteRequest(Cut(std::string("\x10\xff", 2), {}), &got);
  EXPECT_THAT(s.message(), HasSubstr("field 2 varint is truncated"));

  ReadResponseFrame read;
  s = ParseReadResponse(Cut(std::string("\x53", 1), {}), &read);  // Field 10, start group.
  EXPECT_THAT(s.message(), HasSubstr("ReadResponse is malformed: field 10 has wire type 3"));
}

}  // namespace
}  // namespace kfarm
