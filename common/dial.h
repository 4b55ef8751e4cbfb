// Client channels to a kfarm scheduler: plaintext ("grpc://HOST:PORT" or "HOST:PORT") or TLS
// ("grpcs://HOST:PORT"), optionally with a client certificate and a bearer token. The CLI, the
// worker and `kfarm modfinal` all dial through here, so every client speaks the same security.
#ifndef KFARM_COMMON_DIAL_H_
#define KFARM_COMMON_DIAL_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "kfarm/config.pb.h"

namespace kfarm {

// Errors name the file or the address that was wrong. A token travels as "authorization: Bearer
// TOKEN" on every call, the way Bazel's --remote_header sends it; over plaintext only to a
// loopback address, where nothing else can see it.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& remote,
                                                     const config::ClientCredentials& creds);

// Plaintext, no credentials: tests, benchmarks and the loopback default. Use Dial for user input.
std::shared_ptr<grpc::Channel> DialRemote(const std::string& remote);

// True for 127.0.0.0/8, ::1 and "localhost", with or without a port.
bool IsLoopbackAddress(const std::string& address);

}  // namespace kfarm

#endif  // KFARM_COMMON_DIAL_H_
