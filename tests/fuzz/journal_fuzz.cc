// The disk store replays its journal at start-up; a journal damaged in any way must open (or
// fail naming the file) and leave an index whose entries have sane sizes.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/disk_journal.h"
#include "common/lru_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  char path[] = "/tmp/kfarm-journal-fuzz.XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  close(fd);
  kfarm::LruIndex index;
  auto journal = kfarm::DiskJournal::Open(path, &index);
  if (journal.ok()) {
    if (index.total_bytes() < 0) std::abort();
    journal->reset();
  }
  unlink(path);
  return 0;
}
