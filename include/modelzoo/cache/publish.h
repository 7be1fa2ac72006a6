#pragma once
/// \file
/// Putting bytes obtained elsewhere (a file on a USB stick, a member of a
/// bundle) into the cache with the same guarantee as a download: the bytes
/// are copied into a temporary file beside the target while their SHA-256 is
/// computed, checked against the expectation, and only then renamed to the
/// final name (under the entry's lock) and stamped. Nothing unverified ever
/// carries a cache file name.
///
/// Publishing is split in two steps so that a caller with several files can
/// verify all of them before any becomes visible (all-or-nothing):
/// \code
///   std::vector<cache::StagedFile> staged;
///   for (auto& f : files) staged.push_back(cache::stage_verified(c, f.name, f.expect, f.source, f.label));
///   for (auto& s : staged) s.publish();   // only after every file verified
/// \endcode
/// A StagedFile that is never published removes its temporary file when it
/// is destroyed. Temporary names carry the cache's `.mztmp` marker, so
/// listings treat them as side files and `cache_tool prune --partials`
/// removes the ones a crashed process left behind.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "modelzoo/cache/cache.h"

namespace modelzoo::cache {

/// Fills `buf` with up to `n` bytes and returns how many; 0 means the end.
/// Throws (any modelzoo::Error) when the underlying source fails.
using ByteSource = std::function<std::size_t(char* buf, std::size_t n)>;

/// A ByteSource reading a whole regular file. Throws CacheError naming the
/// file when it cannot be opened or read.
ByteSource file_source(const std::filesystem::path& file);

/// A verified temporary file waiting beside its final cache name.
class StagedFile {
 public:
  StagedFile() = default;
  /// Removes the temporary file unless publish() moved it into place.
  ~StagedFile();
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  /// Renames the temporary file to its cache name under the entry lock and
  /// writes the integrity stamp; replaces whatever file had that name.
  /// Returns the final path. Throws CacheError naming both paths.
  std::filesystem::path publish();
  /// Hands the verified temporary file over to the caller, who must move or
  /// remove it (a cache with another layout publishes it itself: HfCache).
  /// Returns its path; the StagedFile then owns nothing.
  std::filesystem::path release();

  /// The final cache path (`<root>/<file_name>`).
  const std::filesystem::path& target() const { return target_; }
  /// The temporary file (empty once published).
  const std::filesystem::path& temp() const { return temp_; }
  /// Full SHA-256 of the bytes.
  const std::string& sha256() const { return sha256_; }
  /// Number of bytes.
  uint64_t size() const { return size_; }

 private:
  friend StagedFile stage_verified(const Cache&, const std::string&, const Expectation&, const ByteSource&,
                                   const std::string&);
  const Cache* cache_ = nullptr;
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::string sha256_;
  uint64_t size_ = 0;
};

/// Copies `source` into a temporary file in the writable root beside
/// `file_name`'s cache path, hashing while copying, and checks size and
/// SHA-256 against `expect`. A source longer than `expect.size` is cut off as
/// soon as it exceeds it. On a mismatch the temporary file is removed and
/// HashMismatchError names `label`, the expected and the actual size or hash.
/// `file_name` is checked like Cache::target_path (CacheError when unsafe).
StagedFile stage_verified(const Cache& cache, const std::string& file_name, const Expectation& expect,
                          const ByteSource& source, const std::string& label);

/// stage_verified() then publish(): the common one-file case.
std::filesystem::path publish_verified(const Cache& cache, const std::string& file_name,
                                       const Expectation& expect, const ByteSource& source,
                                       const std::string& label);

}  // namespace modelzoo::cache
