// Our proto/ files against the upstream REAPI/googleapis copies Debian ships with
// bazel-bootstrap-source: every upstream message, field, enum value and RPC must exist here with
// the same name, number and type, and fully populated messages must survive encoding with one
// descriptor set and decoding with the other, both ways, byte for byte.
#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <filesystem>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "build/bazel/semver/semver.pb.h"
#include "google/bytestream/bytestream.pb.h"
#include "google/longrunning/operations.pb.h"
#include "google/rpc/code.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

namespace pb = google::protobuf;

constexpr char kUpstream[] = "/usr/src/bazel-bootstrap/third_party";
const char* const kFiles[] = {
    "build/bazel/remote/execution/v2/remote_execution.proto",
    "build/bazel/semver/semver.proto",
    "google/bytestream/bytestream.proto",
    "google/longrunning/operations.proto",
    "google/rpc/status.proto",
    "google/rpc/code.proto",
    "google/rpc/error_details.proto",
};

// Fields upstream renamed after the copy Debian ships (same number and type, new name).
const absl::flat_hash_map<std::string, std::string>& Renamed() {
  static const auto* m = new absl::flat_hash_map<std::string, std::string>{
      {"build.bazel.remote.execution.v2.CacheCapabilities.digest_function", "digest_functions"},
  };
  return *m;
}

class Errors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& file, int line, int, const std::string& msg) override {
    ADD_FAILURE() << file << ":" << line << ": " << msg;
  }
};

class WireCompatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Touch one message per file so the linker keeps every file's descriptor in the pool.
    build::bazel::remote::execution::v2::Action::descriptor();
    build::bazel::semver::SemVer::descriptor();
    google::bytestream::ReadRequest::descriptor();
    google::longrunning::Operation::descriptor();
    google::rpc::PreconditionFailure::descriptor();
    google::rpc::Code_descriptor();
    if (!std::filesystem::exists(kUpstream)) return;
    tree_ = new pb::compiler::DiskSourceTree();
    tree_->MapPath("", absl::StrCat(kUpstream, "/remoteapis"));
    tree_->MapPath("", absl::StrCat(kUpstream, "/googleapis"));
    tree_->MapPath("", "/usr/include");
    importer_ = new pb::compiler::Importer(tree_, new Errors());
    for (const char* f : kFiles) ASSERT_NE(importer_->Import(f), nullptr) << f;
  }
  void SetUp() override {
    if (importer_ == nullptr) GTEST_SKIP() << kUpstream << " missing (bazel-bootstrap-source)";
  }
  static const pb::DescriptorPool* upstream() { return importer_->pool(); }
  static const pb::DescriptorPool* ours() { return pb::DescriptorPool::generated_pool(); }

  static pb::compiler::DiskSourceTree* tree_;
  static pb::compiler::Importer* importer_;
};
pb::compiler::DiskSourceTree* WireCompatTest::tree_ = nullptr;
pb::compiler::Importer* WireCompatTest::importer_ = nullptr;

void CompareMessage(const pb::Descriptor* up, const pb::Descriptor* our) {
  ASSERT_NE(our, nullptr) << "missing message " << up->full_name();
  for (int i = 0; i < up->field_count(); ++i) {
    const pb::FieldDescriptor* uf = up->field(i);
    const pb::FieldDescriptor* of = our->FindFieldByNumber(uf->number());
    ASSERT_NE(of, nullptr) << uf->full_name() << " = " << uf->number() << " is missing";
    auto renamed = Renamed().find(uf->full_name());
    EXPECT_EQ(of->name(), renamed == Renamed().end() ? uf->name() : renamed->second)
        << uf->full_name();
    EXPECT_EQ(of->type(), uf->type()) << uf->full_name();
    EXPECT_EQ(of->is_repeated(), uf->is_repeated()) << uf->full_name();
    if (uf->message_type()) {
      EXPECT_EQ(of->message_type()->full_name(), uf->message_type()->full_name()) << uf->full_name();
    }
    if (uf->enum_type()) {
      EXPECT_EQ(of->enum_type()->full_name(), uf->enum_type()->full_name()) << uf->full_name();
    }
    EXPECT_EQ(of->containing_oneof() != nullptr, uf->containing_oneof() != nullptr)
        << uf->full_name();
  }
  for (int i = 0; i < up->nested_type_count(); ++i) {
    if (up->nested_type(i)->options().map_entry()) continue;
    CompareMessage(up->nested_type(i), our->FindNestedTypeByName(up->nested_type(i)->name()));
  }
}

void CompareEnum(const pb::EnumDescriptor* up, const pb::EnumDescriptor* our) {
  ASSERT_NE(our, nullptr) << "missing enum " << up->full_name();
  for (int i = 0; i < up->value_count(); ++i) {
    const pb::EnumValueDescriptor* v = our->FindValueByName(up->value(i)->name());
    ASSERT_NE(v, nullptr) << up->value(i)->full_name() << " is missing";
    EXPECT_EQ(v->number(), up->value(i)->number()) << up->value(i)->full_name();
  }
}

TEST_F(WireCompatTest, EveryUpstreamDefinitionExistsWithSameNamesNumbersAndTypes) {
  for (const char* f : kFiles) {
    const pb::FileDescriptor* file = upstream()->FindFileByName(f);
    ASSERT_NE(file, nullptr);
    for (int i = 0; i < file->message_type_count(); ++i) {
      const pb::Descriptor* m = file->message_type(i);
      CompareMessage(m, ours()->FindMessageTypeByName(m->full_name()));
      for (int j = 0; j < m->enum_type_count(); ++j) {
        CompareEnum(m->enum_type(j), ours()->FindEnumTypeByName(m->enum_type(j)->full_name()));
      }
    }
    for (int i = 0; i < file->enum_type_count(); ++i) {
      CompareEnum(file->enum_type(i), ours()->FindEnumTypeByName(file->enum_type(i)->full_name()));
    }
    for (int i = 0; i < file->service_count(); ++i) {
      const pb::ServiceDescriptor* s = file->service(i);
      const pb::ServiceDescriptor* o = ours()->FindServiceByName(s->full_name());
      ASSERT_NE(o, nullptr) << "missing service " << s->full_name();
      for (int j = 0; j < s->method_count(); ++j) {
        const pb::MethodDescriptor* um = s->method(j);
        const pb::MethodDescriptor* om = o->FindMethodByName(um->name());
        ASSERT_NE(om, nullptr) << "missing rpc " << um->full_name();
        EXPECT_EQ(om->input_type()->full_name(), um->input_type()->full_name());
        EXPECT_EQ(om->output_type()->full_name(), um->output_type()->full_name());
        EXPECT_EQ(om->client_streaming(), um->client_streaming()) << um->full_name();
        EXPECT_EQ(om->server_streaming(), um->server_streaming()) << um->full_name();
      }
    }
  }
}

// Sets every field (two elements for repeated ones, one member per oneof) with values derived
// from the field number, recursing into messages up to a small depth.
void Fill(pb::Message* m, int depth) {
  const pb::Descriptor* d = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->containing_oneof() && f->index_in_oneof() != f->containing_oneof()->field_count() - 1) {
      continue;
    }
    const int n = f->number();
    for (int k = 0; k < (f->is_repeated() && !f->is_map() ? 2 : 1); ++k) {
      const int v = n * 10 + k + 1;
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth >= 4) break;
          if (f->is_map()) {
            pb::Message* e = r->AddMessage(m, f);
            Fill(e, depth + 1);
            break;
          }
          Fill(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
          break;
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          std::string s = absl::StrCat(f->name(), "-", v);
          f->is_repeated() ? r->AddString(m, f, s) : r->SetString(m, f, s);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case pb::FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
          break;
        case pb::FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(m, f, v * 1000003LL) : r->SetInt64(m, f, v * 1000003LL);
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
          break;
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const pb::EnumDescriptor* e = f->enum_type();
          int value = e->value(e->value_count() - 1)->number();
          f->is_repeated() ? r->AddEnumValue(m, f, value) : r->SetEnumValue(m, f, value);
          break;
        }
        default:
          f->is_repeated() ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      }
    }
  }
}

TEST_F(WireCompatTest, FilledMessagesRoundTripBothWays) {
  pb::DynamicMessageFactory factory(upstream());
  int checked = 0;
  for (const char* f : kFiles) {
    const pb::FileDescriptor* file = upstream()->FindFileByName(f);
    for (int i = 0; i < file->message_type_count(); ++i) {
      const pb::Descriptor* up = file->message_type(i);
      const pb::Descriptor* our = ours()->FindMessageTypeByName(up->full_name());
      ASSERT_NE(our, nullptr) << up->full_name();
      const pb::Message* our_proto = pb::MessageFactory::generated_factory()->GetPrototype(our);

      // Ours -> upstream -> bytes: upstream keeps our newer fields as unknown and re-emits them.
      std::unique_ptr<pb::Message> mine(our_proto->New());
      Fill(mine.get(), 0);
      std::string bytes = mine->SerializeAsString();
      std::unique_ptr<pb::Message> theirs(factory.GetPrototype(up)->New());
      ASSERT_TRUE(theirs->ParseFromString(bytes)) << up->full_name();
      EXPECT_EQ(theirs->SerializeAsString(), bytes) << up->full_name();

      // Upstream -> ours: every upstream field must be known to us (no unknown fields).
      std::unique_ptr<pb::Message> theirs_full(factory.GetPrototype(up)->New());
      Fill(theirs_full.get(), 0);
      std::string up_bytes = theirs_full->SerializeAsString();
      std::unique_ptr<pb::Message> back(our_proto->New());
      ASSERT_TRUE(back->ParseFromString(up_bytes)) << up->full_name();
      EXPECT_TRUE(back->GetReflection()->GetUnknownFields(*back).empty()) << up->full_name();
      EXPECT_EQ(back->SerializeAsString(), up_bytes) << up->full_name();
      ++checked;
    }
  }
  EXPECT_GE(checked, 50);
}

}  // namespace
}  // namespace kfarm
