// One blob file of the disk store, read or written: readers check the checksum recorded at commit
// as they read, and map large files; writers checksum what they write and commit through the
// store.
#ifndef KFARM_COMMON_DISK_BLOB_IO_H_
#define KFARM_COMMON_DISK_BLOB_IO_H_

#include <memory>
#include <string>

#include "common/disk_blob_access.h"

namespace kfarm {

// Both take ownership of `fd`. `checksum` 0: none recorded (a verifying layer's verdict records
// it).
std::unique_ptr<BlobReader> NewDiskBlobReader(DiskBlobAccess* store, const Digest& digest, int fd,
                                              std::string path, uint64_t checksum,
                                              int64_t file_size);
std::unique_ptr<BlobWriter> NewDiskBlobWriter(DiskBlobAccess* store, const Digest& digest, int fd,
                                              std::string temp_path);

}  // namespace kfarm

#endif  // KFARM_COMMON_DISK_BLOB_IO_H_
