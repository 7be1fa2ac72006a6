#pragma once
/// \file
/// Streaming SHA-256 (OpenSSL EVP underneath; no OpenSSL types in this header).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace modelzoo::cache {

/// Incremental SHA-256: update() any number of times, then hex_digest().
class Sha256 {
 public:
  /// A fresh digest. Throws Error if OpenSSL cannot provide SHA-256.
  Sha256();
  ~Sha256();  ///< releases the OpenSSL context
  Sha256(Sha256&&) noexcept;             ///< moves the running state
  Sha256& operator=(Sha256&&) noexcept;  ///< moves the running state
  /// Feeds `n` bytes; throws Error after hex_digest().
  void update(const void* data, std::size_t n);
  /// Lower-case 64-char hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// SHA-256 of a whole file (or of its first `limit` bytes). Throws CacheError naming the file.
std::string sha256_file(const std::filesystem::path& file, uint64_t limit = UINT64_MAX);

}  // namespace modelzoo::cache
