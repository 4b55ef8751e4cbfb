// The status pages on the operators' HTTP listener: "/" (the queue, builds, workers and
// operations, refreshing itself), "/operation?name=..." (one action's command, output and
// timeline), and the same as JSON under /api/. With auth configured, each needs the status
// permission: a bearer token, or the token as the password of HTTP basic auth, so a browser asks.
#ifndef KFARM_SCHEDULER_STATUS_HTTP_H_
#define KFARM_SCHEDULER_STATUS_HTTP_H_

#include <map>
#include <string>

#include "common/http_server.h"
#include "scheduler/authorizer.h"
#include "scheduler/status_source.h"

namespace kfarm {

// Adds the pages to `handlers`; `source` and `auth` must outlive the server.
void AddStatusPages(StatusSource* source, const Authorizer* auth,
                    std::map<std::string, HttpServer::Handler>& handlers);

// The caller's credentials from an HTTP Authorization header: "Bearer TOKEN" as over gRPC, and
// "Basic base64(user:TOKEN)" taken as that bearer token (the user name is ignored).
CallerCredentials HttpCredentials(const std::string& authorization);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STATUS_HTTP_H_
