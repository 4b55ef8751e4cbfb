// The pipe protocol between the worker and the first process of a kept-alive sandbox
// (kfarm-sandbox-init): one request per action, one reply. Strings are a 32-bit length and the
// bytes; lists a 32-bit count and the strings. Both ends are this code, built together.
#ifndef KFARM_WORKER_SANDBOX_PROTOCOL_H_
#define KFARM_WORKER_SANDBOX_PROTOCOL_H_

#include <errno.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kfarm {
namespace sandbox {

struct Request {
  std::string program;  // Absolute path, resolved with the action's PATH.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // NAME=VALUE, exactly the action's.
  std::string cwd;
  std::string stdout_path;
  std::string stderr_path;
};

// Exit code of the command (128 + signal when killed by one).
struct Reply {
  int32_t exit_code = 0;
};

inline bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

inline bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline void Put(std::string* out, const std::string& s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out->append(reinterpret_cast<const char*>(&n), sizeof n);
  out->append(s);
}

inline void Put(std::string* out, const std::vector<std::string>& list) {
  uint32_t n = static_cast<uint32_t>(list.size());
  out->append(reinterpret_cast<const char*>(&n), sizeof n);
  for (const auto& s : list) Put(out, s);
}

inline bool Get(int fd, std::string* s) {
  uint32_t n;
  if (!ReadAll(fd, &n, sizeof n) || n > (64u << 20)) return false;
  s->resize(n);
  return ReadAll(fd, s->data(), n);
}

inline bool Get(int fd, std::vector<std::string>* list) {
  uint32_t n;
  if (!ReadAll(fd, &n, sizeof n) || n > (1u << 20)) return false;
  list->resize(n);
  for (auto& s : *list) {
    if (!Get(fd, &s)) return false;
  }
  return true;
}

// One write, so a request is never interleaved with anything.
inline bool WriteRequest(int fd, const Request& r) {
  std::string buf;
  Put(&buf, r.program);
  Put(&buf, r.argv);
  Put(&buf, r.env);
  Put(&buf, r.cwd);
  Put(&buf, r.stdout_path);
  Put(&buf, r.stderr_path);
  return WriteAll(fd, buf.data(), buf.size());
}

inline bool ReadRequest(int fd, Request* r) {
  return Get(fd, &r->program) && Get(fd, &r->argv) && Get(fd, &r->env) && Get(fd, &r->cwd) &&
         Get(fd, &r->stdout_path) && Get(fd, &r->stderr_path);
}

inline bool WriteReply(int fd, const Reply& r) { return WriteAll(fd, &r.exit_code, sizeof r.exit_code); }
inline bool ReadReply(int fd, Reply* r) { return ReadAll(fd, &r->exit_code, sizeof r->exit_code); }

}  // namespace sandbox
}  // namespace kfarm

#endif  // KFARM_WORKER_SANDBOX_PROTOCOL_H_
