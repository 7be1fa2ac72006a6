#pragma once
/// \file
/// Housekeeping primitives for the writable cache root: an inventory of the
/// cache's side files (partial downloads, their metadata, temporary files of
/// atomic writes, lock files, stamps) and a non-blocking entry lock, so that
/// a cleaner can tell a download in progress from one a dead process left
/// behind. Read-only roots are never looked at here.
///
/// Lock files and waiters: EntryLock keeps `<name>.lock` forever because a
/// process may have opened it and be waiting for the lock. remove_stale_lock()
/// unlinks a lock file only while holding its lock itself, so no holder is
/// ever robbed; a process that opened the file in the instant before the
/// unlink and then gets the lock on the unlinked file notices (EntryLock and
/// TryEntryLock compare the locked descriptor's inode with the path's) and
/// locks the file under the name instead, so it is never excluded from nobody.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "modelzoo/cache/cache.h"

namespace modelzoo::cache {

/// What a side file is.
enum class SideKind {
  Partial,      ///< `<name>.part`: a download in progress or interrupted
  PartialMeta,  ///< `<name>.part.meta`: resume validators of a partial download
  Lock,         ///< `<name>.lock`: an entry lock file
  Stamp,        ///< `<name>.mzstamp`: an integrity stamp
  Temporary,    ///< `*.<pid>.<n>.mztmp`: temporary file of an atomic write
};

/// "partial", "partial-meta", "lock", "stamp", "temporary".
const char* side_kind_name(SideKind k);

/// One side file in the writable root.
struct SideFile {
  SideKind kind = SideKind::Temporary;
  std::string file_name;           ///< the side file's own name
  std::string entry;               ///< the cache entry it belongs to (empty for temporaries)
  std::filesystem::path path;      ///< full path
  uint64_t size = 0;               ///< bytes
  int64_t mtime_ns = 0;            ///< modification time, ns since the epoch
  long owner_pid = 0;              ///< for temporaries: the pid in the name (0 if unknown)
};

/// Every side file in the writable root, sorted by name. An absent root
/// lists as empty; an unreadable one throws CacheError naming it.
std::vector<SideFile> list_side_files(const Cache& cache);

/// A non-blocking attempt at an entry's lock (`<file>.lock`, the same lock
/// EntryLock takes). Released by the destructor.
class TryEntryLock {
 public:
  /// Tries to lock `<file>.lock` without waiting (creating the lock file
  /// only when `create` is set). Throws CacheError when the file exists but
  /// cannot be opened.
  explicit TryEntryLock(const std::filesystem::path& file, bool create = false);
  ~TryEntryLock();
  TryEntryLock(const TryEntryLock&) = delete;
  TryEntryLock& operator=(const TryEntryLock&) = delete;
  /// True when this object holds the lock (or the lock file did not exist
  /// and `create` was false: then nobody holds it either).
  bool acquired() const { return acquired_; }
  /// The lock file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool acquired_ = false;
};

/// Removes the partial download of `entry` (`.part` and `.part.meta`) unless
/// its lock is held (a download in progress). Returns false when in use.
bool remove_partial(const Cache& cache, const std::string& entry);

/// Removes the lock file `<entry>.lock` if no process holds it, unlinking it
/// while holding the lock. Returns false when it is held.
bool remove_stale_lock(const Cache& cache, const std::string& entry);

/// True when a temporary file's owner is gone: the pid in its name is not a
/// running process on this machine, or the file is older than `max_age_seconds`.
bool is_abandoned_temporary(const SideFile& f, int64_t now_ns, int64_t max_age_seconds = 24 * 3600);

}  // namespace modelzoo::cache
