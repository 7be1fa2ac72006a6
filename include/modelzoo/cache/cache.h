#pragma once
/// \file
/// The weights cache: torch.hub's layout (`<root>/<file name>`), so files are
/// shared with Python. A verified file carries a stamp `<file>.mzstamp`
/// (size, mtime, sha256) so that a cache hit costs a stat; read-only roots
/// (MODELZOO_READONLY_CACHES) are searched first and never written.
///
/// Files beside a cached file `<name>` (all in the same directory):
/// | name | meaning |
/// |---|---|
/// | `<name>.mzstamp` | JSON `{"size":…, "mtime_ns":…, "sha256":"…"}`, plus `"boot_id"` when the data was not yet known to be on disk; ignored unless size and mtime (ns) still match the file (and the boot id, when present, is this boot's) |
/// | `<name>.lock` | per-entry lock (flock); kept, since removing a lock file races with waiters |
/// | `<name>.part` | a download in progress or interrupted (written only under the lock) |
/// | `<name>.part.meta` | validators of the partial download (ETag / Last-Modified), for resume |

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace modelzoo::cache {

/// Where the cache lives. Plain data; from_env() reads the environment once.
struct CacheOptions {
  std::filesystem::path root;                      ///< writable cache directory
  std::vector<std::filesystem::path> readonly_roots;  ///< searched first, never written
  /// Rehash a cached file on every lookup that may hash (what a load does),
  /// instead of trusting a stamp whose size and mtime still match; catches
  /// bytes that changed in place with size and mtime unchanged (bit rot).
  /// MODELZOO_VERIFY=full. Costs one read of the file per load.
  bool verify_full = false;
  /// The Hugging Face Hub's cache (cache/hf_cache.h); default_hf_cache_root() in from_env().
  std::filesystem::path hf_root;
  /// MODELZOO_CACHE, else $TORCH_HOME/hub/checkpoints, else
  /// $XDG_CACHE_HOME/torch/hub/checkpoints, else ~/.cache/torch/hub/checkpoints;
  /// plus MODELZOO_READONLY_CACHES (':'-separated) and MODELZOO_VERIFY
  /// ("full" sets verify_full; "stamp" or empty is the default; anything
  /// else throws CacheError). A leading `~/` is expanded.
  static CacheOptions from_env();
};

/// The root from_env() would choose (no read-only roots). Throws CacheError
/// when no variable applies and the home directory is unknown.
std::filesystem::path default_cache_root();

/// What a cached file must be.
struct Expectation {
  std::string sha256;      ///< expected hex digest (or prefix); empty accepts any content
  bool sha256_is_prefix = false;
  std::optional<uint64_t> size;
};

/// True when the full hex `digest` satisfies `expect` (case-insensitive;
/// a prefix expectation compares only its leading characters).
bool digest_matches(const Expectation& expect, const std::string& digest);

/// State of one file in the cache (for listing and lookups).
enum class EntryState {
  Absent,         ///< no file under that name
  Verified,       ///< file present and its stamp matches (size, mtime, hash)
  Unverified,     ///< file present without a (matching) stamp: needs a rehash
  Partial,        ///< only a partial download exists
};

/// Result of a lookup.
struct Lookup {
  EntryState state = EntryState::Absent;
  std::filesystem::path path;   ///< where the file is (when not Absent)
  bool readonly = false;        ///< found in a read-only root
  std::string sha256;           ///< digest from the stamp, when Verified
  /// Unverified because the file is known NOT to match (its stamp or a rehash
  /// gave `actual_sha256`, or its size differs), rather than merely unchecked.
  bool mismatch = false;
  std::string actual_sha256;    ///< the digest that did not match (when known)
};

/// One file in the writable root, as list() reports it.
struct CachedFile {
  std::string file_name;                ///< name inside the root
  std::filesystem::path path;           ///< full path
  uint64_t size = 0;                    ///< bytes
  std::optional<std::string> sha256;    ///< digest from a valid stamp
  bool partial = false;                 ///< a `.part` download, not a finished file
};

/// True for the cache's own side files (`.mzstamp`, `.lock`, `.part`,
/// `.part.meta`, and temporary files of atomic writes).
bool is_auxiliary_file(const std::string& file_name);

/// This host's name as it appears in private temporary names: letters,
/// digits and '-' (others replaced by '-'), at most 32 characters.
std::string host_tag();

/// `<file>.@<host>.<pid>.<n>.mztmp` beside `file`: a temporary name unique to
/// this host, process and call, which housekeeping recognises as a temporary
/// (its owner is judged by pid only on the same host, otherwise by age).
std::filesystem::path private_temp_path(const std::filesystem::path& file);

/// Exclusive per-entry lock: flock() on `<file>.lock`. Blocks until acquired;
/// released by the destructor, or by the kernel when the holder dies. flock
/// locks are per open file, so threads of one process exclude each other too.
/// After locking, the lock file is checked to still be the one under that
/// name (same device and inode); when a cleaner unlinked or replaced it
/// meanwhile (`cache_tool prune --stale-locks`), the file is opened again and
/// locked anew, so two holders can never hold locks on different files.
/// NFS: Linux emulates flock with POSIX byte-range locks there (needs a working
/// lock manager; older kernels/clients may treat it as local-only). Publishing a
/// file is a rename of a verified temporary, so even without a working lock two
/// writers waste bandwidth but never expose a partial or unverified file
/// (docs/cache.md).
class EntryLock {
 public:
  /// Locks `<file>.lock` (parent directory created). Throws CacheError naming the path.
  explicit EntryLock(const std::filesystem::path& file);
  /// Like EntryLock(file), but while another holder has the lock, calls
  /// `while_waiting` about every 100 ms (an exception from it propagates).
  EntryLock(const std::filesystem::path& file, const std::function<void()>& while_waiting);
  ~EntryLock();  ///< releases the lock
  EntryLock(const EntryLock&) = delete;
  EntryLock& operator=(const EntryLock&) = delete;
  /// The lock file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// False where flock() is known not to exclude processes reliably: the
/// directory is on a network filesystem (NFS, SMB/CIFS, Ceph, Lustre, GlusterFS
/// and other FUSE mounts, AFS, 9p). True on local filesystems and when the
/// filesystem cannot be determined (e.g. the directory does not exist yet).
bool locks_are_reliable(const std::filesystem::path& dir);

/// Access to the cache directories. Holds no global state.
class Cache {
 public:
  /// A view of the directories in `options` (nothing is created yet).
  explicit Cache(CacheOptions options);
  /// The directories this cache uses.
  const CacheOptions& options() const { return options_; }

  /// `<root>/<file_name>`; throws CacheError for unsafe names (empty, ".",
  /// "..", path separators, control characters, a leading '.', longer than 255
  /// bytes, or a name ending like one of the cache's side files).
  std::filesystem::path target_path(const std::string& file_name) const;

  /// Finds `file_name` in the read-only roots, then the root. A file whose
  /// stamp matches `expect` is Verified at the cost of a stat (with
  /// CacheOptions::verify_full and `verify_unstamped`, it is rehashed); with
  /// `verify_unstamped`, a file without a valid stamp is rehashed, and stamped
  /// when it matches (read-only files are never stamped; their stamp lives
  /// beside them or the hash is recomputed).
  /// The first Verified file wins; otherwise the writable root's state is
  /// reported (or a read-only root's, when only that one has the file).
  Lookup find(const std::string& file_name, const Expectation& expect,
              bool verify_unstamped = true) const;

  /// Records that `file` (in the writable root) has been verified to hash to `sha256`.
  /// Written atomically (temporary + rename); throws CacheError naming the file.
  /// With `durable` false (the file's data may still be only in the page
  /// cache, not yet on disk) the stamp also records the boot id and is ignored
  /// after a reboot, so a file damaged by a crash is rehashed, never trusted.
  void write_stamp(const std::filesystem::path& file, const std::string& sha256, bool durable = true) const;
  /// The digest recorded for `file` if its stamp still matches size and mtime.
  std::optional<std::string> read_stamp(const std::filesystem::path& file) const;

  /// All directories searched, in order (for error messages).
  std::vector<std::filesystem::path> search_path() const;

  /// The finished files (and `.part` downloads) in the writable root, sorted by
  /// name; side files are skipped. An absent root lists as empty.
  std::vector<CachedFile> list() const;

  /// Removes `file_name` and its side files from the writable root (under its
  /// lock). Returns whether the file existed. Never touches read-only roots.
  bool remove(const std::string& file_name) const;

 private:
  CacheOptions options_;
};

/// `<file>.mzstamp`.
std::filesystem::path stamp_path(const std::filesystem::path& file);

/// The digest that the stamp file `stamp` records for `file`, when it still
/// matches the file's size and mtime (and boot, for a non-durable stamp); a
/// stamp kept elsewhere than beside the file (the Hub cache keeps them in `.locks/`).
std::optional<std::string> read_stamp_file(const std::filesystem::path& stamp, const std::filesystem::path& file);
/// Writes such a stamp atomically. Throws CacheError naming the files.
void write_stamp_file(const std::filesystem::path& stamp, const std::filesystem::path& file,
                      const std::string& sha256, bool durable = true);

}  // namespace modelzoo::cache
