#pragma once
/// \file
/// The weights cache: torch.hub's layout (`<root>/<file name>`), so files are
/// shared with Python. A verified file carries a stamp `<file>.mzstamp`
/// (size, mtime, sha256) so that a cache hit costs a stat; read-only roots
/// (MODELZOO_READONLY_CACHES) are searched first and never written.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelzoo::cache {

/// Where the cache lives. Plain data; from_env() reads the environment once.
struct CacheOptions {
  std::filesystem::path root;                      ///< writable cache directory
  std::vector<std::filesystem::path> readonly_roots;  ///< searched first, never written
  /// MODELZOO_CACHE, else $TORCH_HOME/hub/checkpoints, else
  /// $XDG_CACHE_HOME/torch/hub/checkpoints, else ~/.cache/torch/hub/checkpoints;
  /// plus MODELZOO_READONLY_CACHES (':'-separated).
  static CacheOptions from_env();
};

/// The root from_env() would choose (no read-only roots).
std::filesystem::path default_cache_root();

/// What a cached file must be.
struct Expectation {
  std::string sha256;      ///< expected hex digest (or prefix)
  bool sha256_is_prefix = false;
  std::optional<uint64_t> size;
};

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
};

/// Access to the cache directories. Holds no global state.
class Cache {
 public:
  explicit Cache(CacheOptions options);
  const CacheOptions& options() const { return options_; }

  /// `<root>/<file_name>`; throws CacheError for unsafe names.
  std::filesystem::path target_path(const std::string& file_name) const;

  /// Finds `file_name` in the read-only roots, then the root. A file whose
  /// stamp matches `expect` is Verified at the cost of a stat; with
  /// `verify_unstamped`, a file without a valid stamp is rehashed, and stamped
  /// when it matches (read-only files are never stamped; their stamp lives
  /// beside them or the hash is recomputed).
  Lookup find(const std::string& file_name, const Expectation& expect,
              bool verify_unstamped = true) const;

  /// Records that `file` (in the writable root) has been verified to hash to `sha256`.
  void write_stamp(const std::filesystem::path& file, const std::string& sha256) const;
  /// The digest recorded for `file` if its stamp still matches size and mtime.
  std::optional<std::string> read_stamp(const std::filesystem::path& file) const;

  /// All directories searched, in order (for error messages).
  std::vector<std::filesystem::path> search_path() const;

 private:
  CacheOptions options_;
};

}  // namespace modelzoo::cache
