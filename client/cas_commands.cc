#include "client/cas_commands.h"

#include <sys/stat.h>

#include <iostream>

#include "absl/container/flat_hash_map.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

absl::StatusOr<Digest> Put(CasClient& client, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat", path);
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(MerkleTree tree, BuildMerkleTree(path));
    RETURN_IF_ERROR(client.UploadTree(tree));
    return tree.root;
  }
  ASSIGN_OR_RETURN(Digest d, DigestOfFile(path));
  RETURN_IF_ERROR(client.UploadMissing({{d, path, nullptr}}));
  return d;
}

absl::Status Get(CasClient& client, const Digest& d, const std::string& out, bool as_dir) {
  if (as_dir) return client.DownloadTree(d, out);
  return client.DownloadFile(d, out, /*executable=*/false);
}

absl::Status PrintTree(CasClient& client, const Digest& root) {
  std::vector<Digest> missing;
  ASSIGN_OR_RETURN(const DirectoryMap by_digest, client.FetchTree(root, &missing));
  return ExpandTree(root, by_digest, ".",
                    [](const std::string& path, const Digest& digest, const reapi::Directory* dir) {
    if (dir == nullptr) {
      std::cout << path << "/  " << digest.ToString() << "  (missing from the CAS)\n";
      return absl::OkStatus();
    }
    std::cout << path << "/  " << digest.ToString() << "\n";
    for (const auto& f : dir->files()) {
      std::cout << path << "/" << f.name() << "  " << DescribeDigest(f.digest())
                << (f.is_executable() ? "  executable" : "") << "\n";
    }
    for (const auto& s : dir->symlinks()) {
      std::cout << path << "/" << s.name() << " -> " << s.target() << "\n";
    }
    return absl::OkStatus();
  });
}

int Usage() {
  std::cerr << "usage: kfarm cas put PATH\n"
               "       kfarm cas get [--dir] DIGEST OUT\n"
               "       kfarm cas tree DIGEST\n"
               "DIGEST is HASH/SIZE as `cas put` prints it.\n";
  return 2;
}

}  // namespace

int RunCasCommand(CasClient& client, const std::vector<std::string>& args, bool as_dir) {
  if (args.empty()) return Usage();
  const std::string& verb = args[0];
  absl::Status status;
  if (verb == "put" && args.size() == 2) {
    auto d = Put(client, args[1]);
    status = d.status();
    if (d.ok()) std::cout << d->ToString() << "\n";
  } else if ((verb == "get" && args.size() == 3) || (verb == "tree" && args.size() == 2)) {
    auto d = Digest::Parse(args[1]);
    status = d.status();
    if (d.ok()) status = verb == "get" ? Get(client, *d, args[2], as_dir) : PrintTree(client, *d);
  } else {
    return Usage();
  }
  if (!status.ok()) {
    std::cerr << "kfarm cas " << verb << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace kfarm
