#pragma once
/// \file
/// Downloads with libcurl into the cache: to `<target>.<pid>.part` beside
/// the final name, SHA-256 computed while streaming, size checked, then an
/// atomic rename. Mirrors first, then the weight's own URL; bounded retries of
/// transient failures only; resume with HTTP Range; offline mode never
/// touches the network. TLS verification is always on.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "modelzoo/cache/cache.h"

namespace modelzoo::fetch {

/// Progress of one download.
struct Progress {
  uint64_t bytes = 0;               ///< received so far (including a resumed prefix)
  std::optional<uint64_t> total;    ///< when known
  double bytes_per_second = 0;
  std::string url;                  ///< sanitised
};

/// How to download. Plain data; from_env() reads the environment once.
struct FetchOptions {
  bool offline = false;                 ///< MODELZOO_OFFLINE=1
  std::vector<std::string> mirrors;     ///< MODELZOO_MIRROR, ','-separated base URLs
  std::string ca_file;                  ///< CA bundle (SSL_CERT_FILE when empty: curl's default)
  int max_attempts = 4;                 ///< per URL, transient failures only
  long connect_timeout_seconds = 30;
  long low_speed_limit_bytes = 1024;    ///< abort when slower than this ...
  long low_speed_time_seconds = 60;     ///< ... for this long
  double backoff_initial_seconds = 0.5;
  double backoff_max_seconds = 30;
  std::function<void(const Progress&)> on_progress;  ///< optional
  static FetchOptions from_env();
};

/// One file to put in the cache.
struct FetchRequest {
  std::string url;                 ///< the weight's own URL
  std::string file_name;           ///< cache name (URL basename when empty)
  cache::Expectation expect;       ///< sha256 (full or prefix) and size
  std::string label;               ///< model/tag for error messages, e.g. "vgg19:IMAGENET1K_V1"
};

/// What fetch_to_cache did.
struct FetchResult {
  std::filesystem::path path;      ///< the verified file
  bool downloaded = false;         ///< false on a cache hit
  std::string url;                 ///< sanitised URL it came from (when downloaded)
  uint64_t bytes = 0;              ///< file size
  std::string sha256;              ///< full digest
};

/// Returns the verified cached file for `request`, downloading it (under a
/// per-entry lock) when missing. Throws FetchError / HashMismatchError /
/// CacheError with the label, sanitised URL, path and hashes.
FetchResult fetch_to_cache(const FetchRequest& request, const cache::Cache& cache,
                           const FetchOptions& options);

/// Downloads `url` to `dest` (temp file + verify + rename), no cache logic.
FetchResult download_file(const std::string& url, const std::filesystem::path& dest,
                          const cache::Expectation& expect, const FetchOptions& options,
                          const std::string& label = "");

/// The URL with user:password and query tokens removed, for messages and logs.
std::string sanitize_url(const std::string& url);

/// The last path component of the URL without query/fragment ("vgg19-dcbb9e9d.pth").
std::string url_basename(const std::string& url);

}  // namespace modelzoo::fetch
