#include "common/metrics_blob_access.h"

#include <chrono>

#include "common/status.h"

namespace kfarm {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Counts what passes; the operation ends at the end of the bytes, at an error, or when dropped.
class MetricsReader : public BlobReader {
 public:
  MetricsReader(std::unique_ptr<BlobReader> base, MetricsBlobAccess::Operation* op,
                Clock::time_point start)
      : base_(std::move(base)), op_(op), start_(start) {}
  ~MetricsReader() override {
    if (!done_) op_->abandoned->Increment();
  }

  absl::StatusOr<size_t> Read(char* buf, size_t max) override {
    absl::StatusOr<size_t> n = base_->Read(buf, max);
    Count(n.ok() ? absl::OkStatus() : n.status(), n.ok() ? *n : 0);
    return n;
  }
  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override {
    absl::StatusOr<BlobPiece> piece = base_->ReadPiece(max);
    Count(piece.status(), piece.ok() ? piece->data.size() : 0);
    return piece;
  }
  bool vouched() const override { return base_->vouched(); }
  absl::Status Verdict(absl::Status verification) override {
    return base_->Verdict(std::move(verification));
  }

 private:
  // `n` bytes read, or the end (0), or an error: the end and an error end the operation.
  void Count(const absl::Status& status, size_t n) {
    if (!status.ok() || n == 0) {
      Finish(status);
    } else {
      op_->bytes->Increment(static_cast<double>(n));
    }
  }
  void Finish(const absl::Status& s) {
    if (done_) return;
    done_ = true;
    op_->Done(s, Since(start_));
  }

  std::unique_ptr<BlobReader> base_;
  MetricsBlobAccess::Operation* op_;
  Clock::time_point start_;
  bool done_ = false;
};

class MetricsWriter : public BlobWriter {
 public:
  MetricsWriter(std::unique_ptr<BlobWriter> base, MetricsBlobAccess::Operation* op,
                Clock::time_point start)
      : base_(std::move(base)), op_(op), start_(start) {}
  ~MetricsWriter() override {
    if (!done_) op_->abandoned->Increment();
  }

  absl::Status Write(absl::string_view data) override {
    op_->bytes->Increment(static_cast<double>(data.size()));
    return Failed(base_->Write(data));
  }
  absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void> owner) override {
    size_t size = 0;
    for (absl::string_view p : pieces) size += p.size();
    op_->bytes->Increment(static_cast<double>(size));
    return Failed(base_->WritePieces(pieces, std::move(owner)));
  }
  int64_t bytes_written() const override { return base_->bytes_written(); }
  absl::Status Commit() override {
    absl::Status s = base_->Commit();
    if (!done_) {
      done_ = true;
      op_->Done(s, Since(start_));
    }
    return s;
  }

 private:
  // A refused write ends the operation (the caller drops the writer).
  absl::Status Failed(absl::Status s) {
    if (!s.ok() && !done_) {
      done_ = true;
      op_->Done(s, Since(start_));
    }
    return s;
  }

  std::unique_ptr<BlobWriter> base_;
  MetricsBlobAccess::Operation* op_;
  Clock::time_point start_;
  bool done_ = false;
};

MetricsBlobAccess::Operation MakeOperation(prometheus::Registry& r, const std::string& store,
                                           const std::string& operation, bool with_bytes) {
  auto& ops = prometheus::BuildCounter()
                  .Name("kfarm_blob_access_operations_total")
                  .Help("Store operations by store, operation and outcome")
                  .Register(r);
  auto outcome = [&](const char* o) {
    return &ops.Add({{"store", store}, {"operation", operation}, {"outcome", o}});
  };
  MetricsBlobAccess::Operation op;
  op.ok = outcome("ok");
  op.not_found = outcome("not_found");
  op.invalid = outcome("invalid");
  op.error = outcome("error");
  op.abandoned = outcome("abandoned");
  op.bytes = with_bytes ? &prometheus::BuildCounter()
                               .Name("kfarm_blob_access_bytes_total")
                               .Help("Bytes read from or written to a store")
                               .Register(r)
                               .Add({{"store", store}, {"operation", operation}})
                        : nullptr;
  // 100 µs to 100 s: a small blob from memory to a large one over a slow disk.
  op.seconds = &prometheus::BuildHistogram()
                    .Name("kfarm_blob_access_duration_seconds")
                    .Help("Store operations from open to their end")
                    .Register(r)
                    .Add({{"store", store}, {"operation", operation}},
                         prometheus::Histogram::BucketBoundaries{
                             0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30,
                             100});
  return op;
}

}  // namespace

void MetricsBlobAccess::Operation::Done(const absl::Status& status, double s) {
  switch (status.code()) {
    case absl::StatusCode::kOk: ok->Increment(); break;
    case absl::StatusCode::kNotFound: not_found->Increment(); break;
    case absl::StatusCode::kInvalidArgument: invalid->Increment(); break;
    default: error->Increment(); break;
  }
  seconds->Observe(s);
}

MetricsBlobAccess::MetricsBlobAccess(std::unique_ptr<BlobAccess> base, const std::string& store,
                                     prometheus::Registry& registry)
    : BlobAccessDecorator(std::move(base)),
      read_(MakeOperation(registry, store, "read", true)),
      write_(MakeOperation(registry, store, "write", true)),
      find_missing_(MakeOperation(registry, store, "find_missing", false)),
      find_missing_digests_(&prometheus::BuildHistogram()
                                 .Name("kfarm_blob_access_find_missing_digests")
                                 .Help("Digests asked about per FindMissing call")
                                 .Register(registry)
                                 .Add({{"store", store}},
                                      prometheus::Histogram::BucketBoundaries{
                                          1, 10, 100, 1000, 10000, 100000})) {}

absl::StatusOr<std::unique_ptr<BlobReader>> MetricsBlobAccess::DoOpenRead(const Digest& digest) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<BlobReader>> reader = base()->OpenRead(digest);
  if (!reader.ok()) {
    read_.Done(reader.status(), Since(start));
    return reader;
  }
  return std::make_unique<MetricsReader>(std::move(*reader), &read_, start);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> MetricsBlobAccess::DoOpenWrite(const Digest& digest) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<BlobWriter>> writer = base()->OpenWrite(digest);
  if (!writer.ok()) {
    write_.Done(writer.status(), Since(start));
    return writer;
  }
  return std::make_unique<MetricsWriter>(std::move(*writer), &write_, start);
}

absl::StatusOr<std::vector<Digest>> MetricsBlobAccess::DoFindMissing(
    absl::Span<const Digest> digests) {
  const Clock::time_point start = Clock::now();
  find_missing_digests_->Observe(static_cast<double>(digests.size()));
  absl::StatusOr<std::vector<Digest>> missing = base()->FindMissing(digests);
  find_missing_.Done(missing.status(), Since(start));
  return missing;
}

}  // namespace kfarm
