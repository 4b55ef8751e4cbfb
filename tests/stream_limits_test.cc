// Limits a single client connection meets at the real kfarm-scheduler binary: the number of
// streams it may hold open at once (max_concurrent_streams, read from a config file).
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/digest.h"
#include "common/testing/temp_dir.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/scheduler_process.h"

namespace kfarm {
namespace {

using google::bytestream::ByteStream;
using google::bytestream::WriteRequest;
using google::bytestream::WriteResponse;

// An upload that sent its first bytes and is left open: it holds one HTTP/2 stream.
struct OpenUpload {
  grpc::ClientContext ctx;
  WriteResponse resp;
  std::unique_ptr<grpc::ClientWriter<WriteRequest>> writer;
};

grpc::Status FindMissing(const std::shared_ptr<grpc::Channel>& channel,
                         std::chrono::milliseconds wait) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + wait);
  reapi::FindMissingBlobsRequest req;
  Digest::Of("x").ToProto(req.add_blob_digests());
  reapi::FindMissingBlobsResponse resp;
  return reapi::ContentAddressableStorage::NewStub(channel)->FindMissingBlobs(&ctx, req, &resp);
}

// HTTP/2 lets a client open streams without bound; past the limit its further streams wait in
// the client's own queue (not in the scheduler's memory) until one of its streams ends.
TEST(StreamLimitsTest, StreamsBeyondTheLimitWaitUntilOneEnds) {
  TempDir dir;
  const std::string conf = dir.path() + "/scheduler.conf";
  std::ofstream(conf) << "max_concurrent_streams: 2\n";
  SchedulerProcess server(dir.path(), {"--config=" + conf, "--storage=memory"});
  ASSERT_GT(server.port(), 0) << "scheduler did not start";
  auto channel = server.channel();
  ASSERT_TRUE(FindMissing(channel, std::chrono::seconds(10)).ok());

  const std::string blob = "ten bytes!";
  std::vector<std::unique_ptr<OpenUpload>> uploads;
  for (int i = 0; i < 2; ++i) {
    auto u = std::make_unique<OpenUpload>();
    u->writer = ByteStream::NewStub(channel)->Write(&u->ctx, &u->resp);
    WriteRequest req;
    req.set_resource_name("uploads/00000000-0000-4000-8000-00000000000" + std::to_string(i) +
                          "/blobs/" + Digest::Of(blob).ToString());
    req.set_data(blob.substr(0, 1));
    ASSERT_TRUE(u->writer->Write(req));
    uploads.push_back(std::move(u));
  }
  // The two uploads hold both streams: a third call on the connection cannot start.
  EXPECT_EQ(FindMissing(channel, std::chrono::milliseconds(1500)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // One upload ends without finish_write (an error for the stream; the scheduler keeps the upload
  // resumable), freeing its stream: the next call goes through.
  uploads[0]->writer->WritesDone();
  EXPECT_FALSE(uploads[0]->writer->Finish().ok());
  EXPECT_TRUE(FindMissing(channel, std::chrono::seconds(10)).ok());
  uploads[1]->writer->WritesDone();
  uploads[1]->writer->Finish();
}

}  // namespace
}  // namespace kfarm
