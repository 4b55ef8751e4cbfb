// Drives every storage rule of REAPI against the real kfarm-scheduler binary over loopback.
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>

#include <grpcpp/client_context.h>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/cas_client.h"
#include "common/digest.h"
#include "common/resource_name.h"
#include "common/testing/temp_dir.h"
#include "common/zstd_stream.h"
#include "gmock/gmock.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/scheduler_process.h"

namespace kfarm {
namespace {

using google::bytestream::ByteStream;
using google::bytestream::ReadRequest;
using google::bytestream::ReadResponse;
using google::bytestream::WriteRequest;
using google::bytestream::WriteResponse;
using ::testing::HasSubstr;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "kfarm compresses vmlinux-sized blobs several times over. ";
  s.resize(n);
  return s;
}

class StorageServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<SchedulerProcess>(dir_.path());
    ASSERT_GT(server_->port(), 0) << "scheduler did not start";
    Connect();
  }
  void Connect() {
    auto ch = server_->channel();
    cas_ = reapi::ContentAddressableStorage::NewStub(ch);
    ac_ = reapi::ActionCache::NewStub(ch);
    caps_ = reapi::Capabilities::NewStub(ch);
    bs_ = ByteStream::NewStub(ch);
  }

  grpc::Status BatchPut(const std::vector<std::pair<reapi::Digest, std::string>>& blobs,
                        reapi::BatchUpdateBlobsResponse* resp) {
    reapi::BatchUpdateBlobsRequest req;
    for (const auto& [d, data] : blobs) {
      auto* r = req.add_requests();
      *r->mutable_digest() = d;
      r->set_data(data);
    }
    grpc::ClientContext ctx;
    return cas_->BatchUpdateBlobs(&ctx, req, resp);
  }
  void Put(const std::string& data) {
    reapi::BatchUpdateBlobsResponse resp;
    ASSERT_TRUE(BatchPut({{Digest::Of(data).ToProto(), data}}, &resp).ok());
    ASSERT_EQ(resp.responses(0).status().code(), 0) << resp.responses(0).status().message();
  }
  std::vector<std::string> Missing(const std::vector<Digest>& ds, grpc::Status* status = nullptr) {
    reapi::FindMissingBlobsRequest req;
    for (const auto& d : ds) d.ToProto(req.add_blob_digests());
    reapi::FindMissingBlobsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = cas_->FindMissingBlobs(&ctx, req, &resp);
    if (status) *status = s;
    std::vector<std::string> out;
    for (const auto& d : resp.missing_blob_digests()) out.push_back(DescribeDigest(d));
    return out;
  }
  // Sends `pieces` on one Write stream; finish_write on the last one when `finish`.
  grpc::Status Write(const std::string& name, int64_t first_offset,
                     const std::vector<std::string>& pieces, bool finish, WriteResponse* resp) {
    grpc::ClientContext ctx;
    auto w = bs_->Write(&ctx, resp);
    int64_t offset = first_offset;
    for (size_t i = 0; i < pieces.size(); ++i) {
      WriteRequest req;
      if (i == 0) req.set_resource_name(name);
      req.set_write_offset(offset);
      req.set_data(pieces[i]);
      req.set_finish_write(finish && i + 1 == pieces.size());
      offset += static_cast<int64_t>(pieces[i].size());
      if (!w->Write(req)) break;
    }
    w->WritesDone();
    return w->Finish();
  }
  grpc::Status Read(const std::string& name, int64_t offset, int64_t limit, std::string* out) {
    grpc::ClientContext ctx;
    ReadRequest req;
    req.set_resource_name(name);
    req.set_read_offset(offset);
    req.set_read_limit(limit);
    auto r = bs_->Read(&ctx, req);
    ReadResponse resp;
    out->clear();
    while (r->Read(&resp)) *out += resp.data();
    return r->Finish();
  }

  TempDir dir_;
  std::unique_ptr<SchedulerProcess> server_;
  std::unique_ptr<reapi::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<reapi::ActionCache::Stub> ac_;
  std::unique_ptr<reapi::Capabilities::Stub> caps_;
  std::unique_ptr<ByteStream::Stub> bs_;
};

TEST_F(StorageServicesTest, CapabilitiesAreHonest) {
  reapi::GetCapabilitiesRequest req;
  req.set_instance_name("team/linux");
  reapi::ServerCapabilities caps;
  grpc::ClientContext ctx;
  ASSERT_TRUE(caps_->GetCapabilities(&ctx, req, &caps).ok());
  const auto& c = caps.cache_capabilities();
  ASSERT_EQ(c.digest_functions_size(), 1);
  EXPECT_EQ(c.digest_functions(0), reapi::DigestFunction::SHA256);
  EXPECT_TRUE(c.action_cache_update_capabilities().update_enabled());
  EXPECT_EQ(c.max_batch_total_size_bytes(), 4 << 20);
  EXPECT_EQ(c.symlink_absolute_path_strategy(), reapi::SymlinkAbsolutePathStrategy::DISALLOWED);
  EXPECT_THAT(c.supported_compressors(), ::testing::Contains(reapi::Compressor::ZSTD));
  EXPECT_TRUE(caps.execution_capabilities().exec_enabled());
  EXPECT_EQ(caps.low_api_version().major(), 2);
  EXPECT_EQ(caps.high_api_version().major(), 2);

  req.set_instance_name("x/blobs/y");
  grpc::ClientContext ctx2;
  grpc::Status s = caps_->GetCapabilities(&ctx2, req, &caps);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reserved segment \"blobs\""));

  // DISALLOWED holds for results clients store, and no stored result can point a client that
  // trusts it outside its output directory.
  auto update = [&](const std::function<void(reapi::ActionResult*)>& fill) {
    reapi::UpdateActionResultRequest up;
    Digest::Of("an action").ToProto(up.mutable_action_digest());
    fill(up.mutable_action_result());
    reapi::ActionResult stored;
    grpc::ClientContext c;
    return ac_->UpdateActionResult(&c, up, &stored);
  };
  s = update([](reapi::ActionResult* r) {
    auto* l = r->add_output_symlinks();
    l->set_path("link");
    l->set_target("/etc/passwd");
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("output_symlinks[0].target \"/etc/passwd\" is absolute"));
  s = update([](reapi::ActionResult* r) {
    auto* f = r->add_output_files();
    f->set_path("out/../../x");
    Digest::Of("x").ToProto(f->mutable_digest());
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("output_files[0].path"));
  s = update([](reapi::ActionResult* r) {
    auto* l = r->add_output_directory_symlinks();
    l->set_path("d/link");
    l->set_target("../../..");
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("output_directory_symlinks[0].target"));
  EXPECT_TRUE(update([](reapi::ActionResult* r) {
                auto* l = r->add_output_symlinks();
                l->set_path("d/link");
                l->set_target("../sibling");
              }).ok());
}

TEST_F(StorageServicesTest, FindMissingKnowsTheEmptyBlobAndNamesBadDigests) {
  Digest absent = Digest::Of("absent");
  EXPECT_THAT(Missing({Digest::Empty(), absent}), ::testing::ElementsAre(absent.ToString()));
  Put("present");
  EXPECT_TRUE(Missing({Digest::Of("present")}).empty());

  reapi::FindMissingBlobsRequest req;
  req.add_blob_digests()->set_hash("short");
  reapi::FindMissingBlobsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = cas_->FindMissingBlobs(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("blob_digests[0]"));
  EXPECT_THAT(s.error_message(), HasSubstr("\"short\""));

  req.Clear();
  req.set_digest_function(reapi::DigestFunction::SHA1);
  grpc::ClientContext ctx2;
  s = cas_->FindMissingBlobs(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("SHA1"));
}

TEST_F(StorageServicesTest, BatchUpdateVerifiesEachBlob) {
  Digest good = Digest::Of("good");
  reapi::Digest wrong_size = good.ToProto();
  wrong_size.set_size_bytes(5);
  reapi::BatchUpdateBlobsResponse resp;
  ASSERT_TRUE(BatchPut({{good.ToProto(), "good"},
                        {Digest::Of("claimed").ToProto(), "actual"},
                        {wrong_size, "good"}},
                       &resp)
                  .ok());
  ASSERT_EQ(resp.responses_size(), 3);
  EXPECT_EQ(resp.responses(0).status().code(), 0);
  EXPECT_EQ(resp.responses(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(resp.responses(1).status().message(), HasSubstr(Digest::Of("claimed").ToString()));
  EXPECT_EQ(resp.responses(2).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Missing({good, Digest::Of("claimed"), Digest::Of("actual")}),
              ::testing::ElementsAre(Digest::Of("claimed").ToString(), Digest::Of("actual").ToString()));
}

TEST_F(StorageServicesTest, BatchUpdateAcceptsZstd) {
  std::string data = Compressible(100000);
  reapi::BatchUpdateBlobsRequest req;
  auto* r = req.add_requests();
  Digest::Of(data).ToProto(r->mutable_digest());
  r->set_data(ZstdCompressor::CompressAll(data));
  r->set_compressor(reapi::Compressor::ZSTD);
  reapi::BatchUpdateBlobsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cas_->BatchUpdateBlobs(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.responses(0).status().code(), 0) << resp.responses(0).status().message();
  EXPECT_TRUE(Missing({Digest::Of(data)}).empty());
}

TEST_F(StorageServicesTest, OverLimitBatchesFailAsAWhole) {
  std::string big(3 << 20, 'a'), big2(2 << 20, 'b');
  reapi::BatchUpdateBlobsResponse resp;
  grpc::Status s = BatchPut({{Digest::Of(big).ToProto(), big}, {Digest::Of(big2).ToProto(), big2}},
                            &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("max_batch_total_size_bytes"));

  reapi::BatchReadBlobsRequest req;
  Digest::Of(big).ToProto(req.add_digests());
  Digest::Of(big2).ToProto(req.add_digests());
  reapi::BatchReadBlobsResponse rresp;
  grpc::ClientContext ctx;
  s = cas_->BatchReadBlobs(&ctx, req, &rresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Claimed sizes near 2^63 must not wrap the sum around to something small.
  reapi::BatchReadBlobsRequest huge;
  for (int i = 0; i < 3; ++i) {
    auto* d = huge.add_digests();
    d->set_hash(std::string(64, static_cast<char>('a' + i)));
    d->set_size_bytes(INT64_MAX / 2);
  }
  grpc::ClientContext ctx2;
  s = cas_->BatchReadBlobs(&ctx2, huge, &rresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("max_batch_total_size_bytes"));
}

TEST_F(StorageServicesTest, BatchReadReportsPerBlobStatus) {
  Put("here");
  reapi::BatchReadBlobsRequest req;
  Digest::Of("here").ToProto(req.add_digests());
  Digest::Of("gone").ToProto(req.add_digests());
  Digest::Empty().ToProto(req.add_digests());
  reapi::BatchReadBlobsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cas_->BatchReadBlobs(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.responses_size(), 3);
  EXPECT_EQ(resp.responses(0).data(), "here");
  EXPECT_EQ(resp.responses(1).status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(resp.responses(1).status().message(), HasSubstr(Digest::Of("gone").ToString()));
  EXPECT_EQ(resp.responses(2).status().code(), 0);
}

TEST_F(StorageServicesTest, ByteStreamRoundTripWithOffsetsAndLimits) {
  std::string data = RandomBytes(5 << 20, 1);
  Digest d = Digest::Of(data);
  std::string name = MakeWriteResourceName("ci/linux", "u1", d);
  WriteResponse wr;
  std::vector<std::string> pieces;
  for (size_t i = 0; i < data.size(); i += 1 << 20) pieces.push_back(data.substr(i, 1 << 20));
  ASSERT_TRUE(Write(name, 0, pieces, true, &wr).ok());
  EXPECT_EQ(wr.committed_size(), d.size());

  std::string got;
  std::string rname = MakeReadResourceName("ci/linux", d);
  ASSERT_TRUE(Read(rname, 0, 0, &got).ok());
  EXPECT_TRUE(got == data);
  ASSERT_TRUE(Read(rname, 1000, 5000, &got).ok());
  EXPECT_EQ(got, data.substr(1000, 5000));
  // Across the 1 MiB messages the store's mapping is cut into, and to the end.
  ASSERT_TRUE(Read(rname, (3 << 19) + 7, 2 << 20, &got).ok());
  EXPECT_TRUE(got == data.substr((3 << 19) + 7, 2 << 20));
  ASSERT_TRUE(Read(rname, (4 << 20) + 3, 0, &got).ok());
  EXPECT_TRUE(got == data.substr((4 << 20) + 3));
  ASSERT_TRUE(Read(rname, d.size(), 0, &got).ok());
  EXPECT_EQ(got, "");
  EXPECT_EQ(Read(rname, d.size() + 1, 0, &got).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Read(rname, -1, 0, &got).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Read(rname, 0, -1, &got).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status s = Read(MakeReadResourceName("", Digest::Of("nope")), 0, 0, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr(Digest::Of("nope").ToString()));
}

TEST_F(StorageServicesTest, ResumedUploadContinuesAtTheCommittedSize) {
  std::string data = RandomBytes(3 << 20, 2);
  Digest d = Digest::Of(data);
  std::string name = MakeWriteResourceName("", "resume-1", d);
  WriteResponse wr;
  grpc::Status s = Write(name, 0, {data.substr(0, 1 << 20)}, false, &wr);
  EXPECT_FALSE(s.ok());  // The stream ended without finish_write.

  google::bytestream::QueryWriteStatusRequest q;
  q.set_resource_name(name);
  google::bytestream::QueryWriteStatusResponse qr;
  grpc::ClientContext ctx;
  ASSERT_TRUE(bs_->QueryWriteStatus(&ctx, q, &qr).ok());
  EXPECT_EQ(qr.committed_size(), 1 << 20);
  EXPECT_FALSE(qr.complete());

  s = Write(name, 5, {"x"}, false, &wr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("write_offset 5"));

  ASSERT_TRUE(Write(name, 1 << 20, {data.substr(1 << 20)}, true, &wr).ok());
  EXPECT_EQ(wr.committed_size(), d.size());
  std::string got;
  ASSERT_TRUE(Read(MakeReadResourceName("", d), 0, 0, &got).ok());
  EXPECT_TRUE(got == data);

  grpc::ClientContext ctx2;
  q.set_resource_name(MakeWriteResourceName("", "never-started", Digest::Of("zzz")));
  EXPECT_EQ(bs_->QueryWriteStatus(&ctx2, q, &qr).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StorageServicesTest, DuplicateUploadEndsEarly) {
  Put("already here");
  Digest d = Digest::Of("already here");
  WriteResponse wr;
  ASSERT_TRUE(Write(MakeWriteResourceName("", "dup", d), 0, {"already"}, false, &wr).ok());
  EXPECT_EQ(wr.committed_size(), d.size());
}

TEST_F(StorageServicesTest, ZstdRoundTrip) {
  std::string data = Compressible(4 << 20);
  Digest d = Digest::Of(data);
  std::string compressed = ZstdCompressor::CompressAll(data);
  ASSERT_LT(compressed.size(), data.size() / 4);
  std::vector<std::string> pieces;
  for (size_t i = 0; i < compressed.size(); i += 4096) pieces.push_back(compressed.substr(i, 4096));
  WriteResponse wr;
  ASSERT_TRUE(Write(MakeWriteResourceName("", "z", d, reapi::Compressor::ZSTD), 0, pieces, true, &wr)
                  .ok());
  EXPECT_EQ(wr.committed_size(), static_cast<int64_t>(compressed.size()));

  std::string got;
  ASSERT_TRUE(Read(MakeReadResourceName("", d, reapi::Compressor::ZSTD), 0, 0, &got).ok());
  EXPECT_LT(got.size(), data.size() / 4);
  std::string plain;
  ZstdDecompressor z;
  ASSERT_TRUE(z.Decompress(got, [&](absl::string_view p) {
                 plain.append(p.data(), p.size());
                 return absl::OkStatus();
               }).ok());
  EXPECT_TRUE(plain == data);
  EXPECT_EQ(Read(MakeReadResourceName("", d, reapi::Compressor::ZSTD), 0, 10, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(StorageServicesTest, CorruptUploadIsRejectedAndNotStored) {
  Digest d = Digest::Of("the real bytes");
  WriteResponse wr;
  grpc::Status s = Write(MakeWriteResourceName("", "bad", d), 0, {"the fake bytes"}, true, &wr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr(d.ToString()));
  EXPECT_THAT(Missing({d}), ::testing::ElementsAre(d.ToString()));
  s = Write(MakeWriteResourceName("", "long", d), 0, {"the real bytes and more"}, true, &wr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A large upload is hashed while it is written; one flipped byte still fails it.
  std::string big = RandomBytes(6 << 20, 9);
  Digest big_digest = Digest::Of(big);
  big[(5 << 20) + 17] ^= 0x40;
  std::vector<std::string> pieces;
  for (size_t i = 0; i < big.size(); i += 1 << 20) pieces.push_back(big.substr(i, 1 << 20));
  s = Write(MakeWriteResourceName("", "bigbad", big_digest), 0, pieces, true, &wr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr(big_digest.ToString()));
  EXPECT_THAT(s.error_message(), HasSubstr(Digest::Of(big).ToString()));
  EXPECT_THAT(Missing({big_digest}), ::testing::ElementsAre(big_digest.ToString()));
}

// Write messages are parsed by hand on the server; one that is not a WriteRequest is refused
// with what was wrong, not taken for an empty one.
TEST_F(StorageServicesTest, MalformedWriteMessageIsRefusedByName) {
  grpc::ClientContext ctx;
  WriteResponse wr;
  auto channel = server_->channel();
  const grpc::internal::RpcMethod method("/google.bytestream.ByteStream/Write",
                                         grpc::internal::RpcMethod::CLIENT_STREAMING, channel);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> w(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel.get(), method, &ctx,
                                                                    &wr));
  grpc::Slice truncated(std::string("\x0a\x40uploads/x"));  // Field 1 claims 64 bytes.
  w->Write(grpc::ByteBuffer(&truncated, 1));
  w->WritesDone();
  grpc::Status s = w->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("WriteRequest is malformed: field 1 claims 64 bytes"));
}

// kfarm's own client sends from files and strings without copying into messages.
TEST_F(StorageServicesTest, ClientStreamsFilesAndStrings) {
  CasClient client(server_->channel(), "ci/linux");
  std::string data = RandomBytes((5 << 20) + 123, 4);
  std::string path = dir_.path() + "/big.bin";
  std::ofstream(path, std::ios::binary) << data;
  Digest d = Digest::Of(data);
  ASSERT_TRUE(client.StreamUpload({d, path, nullptr}).ok());
  std::string got;
  ASSERT_TRUE(Read(MakeReadResourceName("ci/linux", d), 0, 0, &got).ok());
  EXPECT_TRUE(got == data);

  auto memory = std::make_shared<const std::string>(RandomBytes(3 << 20, 5));
  Digest md = Digest::Of(*memory);
  ASSERT_TRUE(client.StreamUpload({md, "", memory}).ok());
  EXPECT_EQ(memory.use_count(), 1);  // No message still holds the caller's bytes.
  ASSERT_TRUE(Read(MakeReadResourceName("ci/linux", md), 0, 0, &got).ok());
  EXPECT_TRUE(got == *memory);

  // The file changed after it was hashed: the error names the file and the digest.
  std::ofstream(path, std::ios::binary) << data.substr(0, 1 << 20);
  absl::Status s = client.StreamUpload({Digest::Of(data + "x"), path, nullptr});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr(Digest::Of(data + "x").ToString()));
}

TEST_F(StorageServicesTest, MalformedResourceNamesNameThePart) {
  std::string got;
  grpc::Status s = Read("inst/blobs/nothex/12", 0, 0, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("\"nothex\""));
  s = Read("blobs/" + Digest::Of("a").hex() + "/1/compressed", 0, 0, &got);
  EXPECT_THAT(s.error_message(), HasSubstr("trailing \"compressed\""));
  s = Read("compressed-blobs/brotli/" + Digest::Of("a").ToString(), 0, 0, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("brotli"));
  WriteResponse wr;
  s = Write("blobs/" + Digest::Of("a").ToString(), 0, {"a"}, true, &wr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("uploads/{uuid}"));
}

TEST_F(StorageServicesTest, GetTreePagesAndResumes) {
  // root -> a, b; a -> c; b -> c (shared subtree listed once); c -> (empty) d.
  auto dir_with = [&](std::vector<std::pair<std::string, std::string>> children) {
    reapi::Directory d;
    for (auto& [name, bytes] : children) {
      auto* n = d.add_directories();
      n->set_name(name);
      Digest::Of(bytes).ToProto(n->mutable_digest());
    }
    return d.SerializeAsString();
  };
  reapi::Directory leaf;
  leaf.add_files()->set_name("f");
  *leaf.mutable_files(0)->mutable_digest() = Digest::Of("f").ToProto();
  std::string c = leaf.SerializeAsString();
  std::string d_missing = dir_with({{"gone", "never uploaded"}});
  std::string a = dir_with({{"c", c}, {"m", d_missing}});
  std::string b = dir_with({{"c", c}});
  std::string root = dir_with({{"a", a}, {"b", b}});
  for (const auto* s : {&c, &a, &b, &root}) Put(*s);

  reapi::GetTreeRequest req;
  Digest::Of(root).ToProto(req.mutable_root_digest());
  req.set_page_size(2);
  grpc::ClientContext ctx;
  auto reader = cas_->GetTree(&ctx, req);
  reapi::GetTreeResponse resp;
  std::vector<std::string> tokens;
  int total = 0;
  while (reader->Read(&resp)) {
    EXPECT_LE(resp.directories_size(), 2);
    total += resp.directories_size();
    tokens.push_back(resp.next_page_token());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(total, 4);  // root, a, b, c; the missing subtree is omitted.
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_FALSE(tokens[0].empty());
  EXPECT_TRUE(tokens[1].empty());

  req.set_page_token(tokens[0]);
  grpc::ClientContext ctx2;
  reader = cas_->GetTree(&ctx2, req);
  total = 0;
  while (reader->Read(&resp)) total += resp.directories_size();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(total, 2);

  Digest::Of("no such root").ToProto(req.mutable_root_digest());
  req.clear_page_token();
  grpc::ClientContext ctx3;
  reader = cas_->GetTree(&ctx3, req);
  while (reader->Read(&resp)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr(Digest::Of("no such root").ToString()));
}

TEST_F(StorageServicesTest, ActionCacheServesOnlyCompleteResults) {
  Digest action = Digest::Of("an action");
  Put("stdout text");
  reapi::UpdateActionResultRequest up;
  up.set_instance_name("ci");
  action.ToProto(up.mutable_action_digest());
  auto* r = up.mutable_action_result();
  r->set_exit_code(0);
  Digest::Of("stdout text").ToProto(r->mutable_stdout_digest());
  auto* f = r->add_output_files();
  f->set_path("out/lib.o");
  Digest::Of("object code").ToProto(f->mutable_digest());
  reapi::ActionResult stored;
  grpc::ClientContext ctx;
  ASSERT_TRUE(ac_->UpdateActionResult(&ctx, up, &stored).ok());

  reapi::GetActionResultRequest get;
  get.set_instance_name("ci");
  action.ToProto(get.mutable_action_digest());
  get.set_inline_stdout(true);
  reapi::ActionResult got;
  grpc::ClientContext ctx2;
  grpc::Status s = ac_->GetActionResult(&ctx2, get, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr(Digest::Of("object code").ToString()));

  Put("object code");
  grpc::ClientContext ctx3;
  ASSERT_TRUE(ac_->GetActionResult(&ctx3, get, &got).ok());
  EXPECT_EQ(got.stdout_raw(), "stdout text");
  EXPECT_EQ(got.output_files(0).path(), "out/lib.o");

  get.set_instance_name("other");
  grpc::ClientContext ctx4;
  EXPECT_EQ(ac_->GetActionResult(&ctx4, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StorageServicesTest, RestartKeepsCasAndActionCache) {
  Put("durable");
  Digest action = Digest::Of("durable action");
  reapi::UpdateActionResultRequest up;
  action.ToProto(up.mutable_action_digest());
  up.mutable_action_result()->set_exit_code(7);
  reapi::ActionResult stored;
  grpc::ClientContext ctx;
  ASSERT_TRUE(ac_->UpdateActionResult(&ctx, up, &stored).ok());

  server_->Restart();
  ASSERT_GT(server_->port(), 0);
  Connect();
  EXPECT_TRUE(Missing({Digest::Of("durable")}).empty());
  reapi::GetActionResultRequest get;
  action.ToProto(get.mutable_action_digest());
  reapi::ActionResult got;
  grpc::ClientContext ctx2;
  ASSERT_TRUE(ac_->GetActionResult(&ctx2, get, &got).ok());
  EXPECT_EQ(got.exit_code(), 7);
}

TEST_F(StorageServicesTest, BlobCorruptedOnDiskIsNeverServed) {
  std::string data = RandomBytes(3 << 20, 3);
  Digest d = Digest::Of(data);
  WriteResponse wr;
  ASSERT_TRUE(Write(MakeWriteResourceName("", "c", d), 0, {data}, true, &wr).ok());
  std::string path = dir_.path() + "/cas/blobs/" + d.hex().substr(0, 2) + "/" + d.hex() + "-" +
                     std::to_string(d.size());
  ASSERT_TRUE(std::filesystem::exists(path));
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(d.size() - 10));
    f.put('!');
  }
  std::string got;
  grpc::Status s = Read(MakeReadResourceName("", d), 0, 0, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("corrupt"));
  EXPECT_LT(got.size(), data.size());  // The whole blob never reached the client.
  EXPECT_THAT(Missing({d}), ::testing::ElementsAre(d.ToString()));
}


// kfarm's client asks the server's batch limit and keeps every batch call within it: blobs
// between half the limit and 1 MiB go through ByteStream instead.
TEST(CasClientLimitsTest, BatchesStayWithinTheServersLimit) {
  TempDir dir;
  const std::string conf = dir.path() + "/scheduler.conf";
  std::ofstream(conf) << "max_batch_total_size_bytes: 65536\n";
  SchedulerProcess server(dir.path(), {"--config=" + conf, "--storage=memory"});
  ASSERT_GT(server.port(), 0);
  CasClient client(server.channel(), "");
  EXPECT_EQ(client.max_batch_bytes(), 65536);
  std::vector<BlobSource> blobs;
  std::vector<Digest> digests;
  for (uint32_t i = 0; i < 40; ++i) {
    auto data = std::make_shared<const std::string>(RandomBytes(5000, 100 + i));
    digests.push_back(Digest::Of(*data));
    blobs.push_back({digests.back(), "", data});
  }
  auto big = std::make_shared<const std::string>(RandomBytes(40000, 99));
  digests.push_back(Digest::Of(*big));
  blobs.push_back({digests.back(), "", big});
  const CasClient::TransferPlan plan = client.PlanTransfers(digests);
  EXPECT_THAT(plan.streamed, ::testing::ElementsAre(40u));
  EXPECT_EQ(plan.batches.size(), 7u);  // 6 blobs of 5000 bytes per 32 KiB batch.
  absl::Status up = client.UploadMissing(blobs);
  ASSERT_TRUE(up.ok()) << up;
  auto missing = client.FindMissing(digests);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  for (const auto& batch : plan.batches) {
    std::vector<Digest> asked;
    for (size_t i : batch) asked.push_back(digests[i]);
    auto got = client.BatchRead(asked);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t k = 0; k < batch.size(); ++k) EXPECT_TRUE((*got)[k] == *blobs[batch[k]].data);
  }
}

}  // namespace
}  // namespace kfarm
