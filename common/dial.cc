#include "common/dial.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Adds the bearer token to every call's metadata. Call credentials would do this only on a
// secure channel; a plaintext loopback scheduler with tokens configured must see it too.
class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  BearerInterceptor(grpc::experimental::ClientRpcInfo*, const std::string* header)
      : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new BearerInterceptor(info, &header_);
  }

 private:
  std::string header_;  // Lives as long as the channel, which owns the factory.
};

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view field) {
  if (path.empty()) return std::string();
  auto text = ReadFile(path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat(field, " ", path));
  return *text;
}

std::string HostOf(const std::string& address) {
  if (absl::StartsWith(address, "[")) return address.substr(1, address.find(']') - 1);
  if (address.find(':') != address.rfind(':')) return address;  // A bare IPv6 address.
  return address.substr(0, address.find(':'));
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  std::string host = HostOf(address);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.") ||
         absl::StartsWith(address, "unix:");
}

std::shared_ptr<grpc::Channel> DialRemote(const std::string& remote) {
  auto channel = Dial(remote, config::ClientCredentials());
  return channel.ok() ? *channel : nullptr;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& remote,
                                                     const config::ClientCredentials& creds) {
  std::string target = remote;
  bool tls = false;
  if (absl::StartsWith(target, "grpcs://")) {
    target = target.substr(8);
    tls = true;
  } else if (absl::StartsWith(target, "grpc://")) {
    target = target.substr(7);
  } else if (absl::StrContains(target, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote ", remote, ": expected grpc://HOST:PORT or grpcs://HOST:PORT"));
  }
  if (!tls && (!creds.ca_file().empty() || !creds.cert_file().empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "remote ", remote, " is plaintext but TLS files are given: use grpcs://", target));
  }
  if (creds.cert_file().empty() != creds.key_file().empty()) {
    return absl::InvalidArgumentError("a client certificate needs both its cert and key files");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> channel_creds = grpc::InsecureChannelCredentials();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(creds.ca_file(), "CA file"));
    ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(creds.cert_file(), "client certificate"));
    ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(creds.key_file(), "client key"));
    channel_creds = grpc::SslCredentials(ssl);
    if (!creds.server_name().empty()) args.SetSslTargetNameOverride(creds.server_name());
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!creds.token_file().empty()) {
    ASSIGN_OR_RETURN(std::string token, ReadPem(creds.token_file(), "token file"));
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) return absl::InvalidArgumentError("token file " + creds.token_file() + " is empty");
    if (!tls && !IsLoopbackAddress(target)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to send a token in plaintext to ", target, ": use grpcs://", target));
    }
    interceptors.push_back(std::make_unique<BearerInterceptorFactory>(token));
  }
  if (interceptors.empty()) return grpc::CreateCustomChannel(target, channel_creds, args);
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, channel_creds, args,
                                                                  std::move(interceptors));
}

}  // namespace kfarm
