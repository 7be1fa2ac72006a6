#pragma once
/// \file
/// Downloads with libcurl into the cache. The body streams into
/// `<target>.part` beside the final name while its SHA-256 is computed; size
/// and hash are checked, then the file is renamed into place, so nothing
/// reaches the final name unverified. The partial name is stable (not
/// `<target>.<pid>.part`) so an interrupted download can be resumed by a later
/// run: only the holder of the per-entry lock (`<target>.lock`, see
/// cache::EntryLock) ever writes it, and `<target>.part.meta` records the URL
/// (as a hash) and the ETag / Last-Modified validators. Resuming rehashes the
/// kept prefix and sends `Range` with `If-Range`; a 200 answer restarts cleanly.
/// A partial file that is already complete (its writer died before the
/// rename) is verified and published without a request. Where flock cannot
/// be trusted (NFS and other network filesystems) each process downloads into
/// a private temporary instead (FetchOptions::private_partials), and before
/// any rename the file is checked to be the very one this process wrote and
/// hashed. fetch_to_cache does not fsync: its stamp holds for the current boot
/// only, so data a crash lost is rehashed rather than trusted; see docs/cache.md.
///
/// Parallel ranges: a file of known size (the expectation's, or the
/// Content-Length of a first answer that offers ranges and a strong validator)
/// of at least 2 × FetchOptions::min_range_bytes is split into up to
/// FetchOptions::connections ranges fetched at once (libcurl multi, one
/// connection each), each written at its offset in the one partial file. The
/// first range is the probe: only a 206 with the exact Content-Range and an
/// ETag or Last-Modified lets the others start, each with `If-Range`; a 200
/// (Range ignored) makes the download fall back to one plain request. The
/// probe's first 60 ms of body decide how many run at once: a connection
/// that already delivers FetchOptions::fast_connection_bytes_per_second
/// (256 MiB/s: loopback, a LAN, no per-connection cap
/// to get around) keeps the download on that one connection, its ranges one
/// after another, since more connections would only take CPU from hashing;
/// otherwise all of them start. A resumed download keeps its plan. A free
/// connection takes the second half of the largest active range (halves of at
/// least 4 × min_range_bytes). A second thread hashes the file in
/// order, following the contiguous prefix of completed bytes, so the digest is
/// ready a moment after the last byte. `<target>.part.meta` then records the
/// total, the validators and each range's completed bytes (rewritten at most
/// every 2 MiB / 100 ms, always after the bytes it counts were written); a
/// later run trusts it only when URL, validators, size of the partial file and
/// boot agree, and the digest of the finished file decides in the end. A range
/// answered with another file version (a changed validator, or a 200 to
/// `If-Range`) restarts the whole download: a file is never stitched from two
/// versions. A 206 whose Content-Range is not the one asked for makes the
/// download fall back to one connection.
///
/// Sources: mirrors first (base URL + '/' + file name), then the weight's own
/// URL; each source is verified and any failure moves on to the next one.
/// Retries: bounded, exponential backoff with jitter, only for transient
/// failures (timeouts, resets, truncated bodies, 408, 429, 5xx; Retry-After is
/// honoured up to backoff_max_seconds), per range when ranges are used. An
/// attempt that added bytes to the partial file does not count against
/// max_attempts (so a server that cuts every answer still gets the file across),
/// up to 1000 attempts in all; max_attempts = 1 means exactly one attempt. 404, 403, TLS failures and hash
/// mismatches fail at once. Offline mode never touches the network. TLS peer
/// and host verification is always on; proxies come from the usual curl
/// variables (http_proxy, HTTPS_PROXY, NO_PROXY). `file://` URLs are copied
/// locally with the same verification.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "modelzoo/cache/cache.h"

namespace modelzoo::fetch {

/// Progress of one download. `bytes` never decreases between two reports of
/// one fetch except when a download restarts from zero (a changed file); the
/// last report of a successful fetch has `bytes == *total == file size`.
struct Progress {
  uint64_t bytes = 0;               ///< received so far (including a resumed prefix)
  std::optional<uint64_t> total;    ///< when known (Content-Length / Content-Range, else the expected size)
  double bytes_per_second = 0;     ///< average rate of this transfer
  std::string url;                  ///< sanitised
  /// True while another thread or process holds the entry's lock and
  /// downloads the file: `bytes` is then the size of its partial file (0 when
  /// that is private to it, see FetchOptions::private_partials), `url` the
  /// request's own URL. A waiter that then finds the file gets one last
  /// report with `bytes == *total`.
  bool waiting = false;
};

/// Where and as whom `hf://` sources reach the Hugging Face Hub (fetch/hf.h).
struct HfOptions {
  /// Endpoints tried in order, each speaking the Hub's resolve protocol:
  /// MODELZOO_HF_MIRROR (','-separated) first, then HF_ENDPOINT (default
  /// https://huggingface.co). A mirror (an internal proxy) is asked first;
  /// any failure moves on to the next endpoint.
  std::vector<std::string> endpoints{"https://huggingface.co"};
  /// Bearer token: HF_TOKEN, else the file HF_TOKEN_PATH, else $HF_HOME/token
  /// (~/.cache/huggingface/token), as huggingface_hub reads it. Sent to the
  /// endpoints only, never to a host they redirect to.
  std::string token;
  /// Where the token came from ("HF_TOKEN", the token file's path), for messages.
  std::string token_origin;
  /// HF_HUB_OFFLINE=1: Hub sources resolve from the cache (refs/) only.
  bool offline = false;
  /// Reads the variables above. Throws FetchError naming a malformed endpoint.
  static HfOptions from_env();
};

/// How to download. Plain data; from_env() reads the environment once.
struct FetchOptions {
  /// The cap of `connections`.
  static constexpr int kMaxConnections = 16;
  bool offline = false;                 ///< MODELZOO_OFFLINE=1
  /// What turned offline mode on, named in its errors ("MODELZOO_OFFLINE",
  /// "--offline"); empty: just "offline mode".
  std::string offline_origin;
  std::vector<std::string> mirrors;     ///< MODELZOO_MIRROR, ','-separated base URLs
  std::string ca_file;                  ///< CA bundle (SSL_CERT_FILE when empty: curl's default)
  /// Per URL (per range), transient failures that made no progress; MODELZOO_RETRIES=N gives N + 1.
  int max_attempts = 4;
  long connect_timeout_seconds = 30;    ///< TCP + TLS connect timeout (MODELZOO_TIMEOUT)
  long low_speed_limit_bytes = 1024;    ///< abort when slower than this ...
  long low_speed_time_seconds = 60;     ///< ... for this long (MODELZOO_TIMEOUT)
  /// Connections of one download (parallel ranges), 1..kMaxConnections; MODELZOO_CONNECTIONS.
  int connections = 4;
  /// The smallest range given to a connection; smaller files use one connection.
  uint64_t min_range_bytes = uint64_t{4} << 20;
  /// A probe connection at least this fast (bytes/s over its first 60 ms)
  /// keeps a ranged download on one connection; 0: always `connections`.
  double fast_connection_bytes_per_second = 256.0 * (1 << 20);
  double backoff_initial_seconds = 0.5; ///< first retry delay; doubles per retry, with jitter
  double backoff_max_seconds = 30;      ///< cap of a delay, Retry-After included
  std::function<void(const Progress&)> on_progress;  ///< optional; called at most every 100 ms and at the end
  /// Download into a temporary file private to this process
  /// (`<name>.@<host>.<pid>.<n>.mztmp`) instead of the shared `<name>.part`,
  /// so that writers that do not exclude each other never write the same
  /// file. Such a download resumes within the call but not in a later run.
  /// Chosen automatically where flock cannot be trusted (network
  /// filesystems, see cache::locks_are_reliable); docs/cache.md explains.
  bool private_partials = false;
  /// The Hub's endpoints, token and offline switch (HfOptions::from_env() in from_env()).
  HfOptions hf;
  /// MODELZOO_OFFLINE (truthy), MODELZOO_MIRROR (','-separated), SSL_CERT_FILE
  /// (libcurl does not read it by itself, so it becomes ca_file here),
  /// MODELZOO_CONNECTIONS (1..16), MODELZOO_TIMEOUT (seconds, 1..86400: the
  /// connect timeout and how long a transfer may stall), MODELZOO_RETRIES
  /// (0..100). Throws FetchError naming the variable for a malformed value.
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
  /// Body bytes received from the network in this call (0 for a cache hit or
  /// a published kept part; a resumed download counts only what it fetched).
  uint64_t bytes_transferred = 0;
  /// Bytes of an earlier run's partial file that were kept (0 unless resumed).
  uint64_t bytes_reused = 0;
  bool resumed = false;              ///< continued a partial download of an earlier run
  /// A complete partial file of an earlier run was verified and published without a request.
  bool published_kept_part = false;
  int connections = 0;               ///< most connections used at once (0: none)
  /// Sources that failed before the one that worked, one message each (e.g. a
  /// mirror that served a file with the wrong hash).
  std::vector<std::string> warnings;
};

/// Returns the verified cached file for `request`, downloading it (under a
/// per-entry lock) when missing. Throws FetchError / HashMismatchError /
/// CacheError with the label, sanitised URL, path and hashes.
FetchResult fetch_to_cache(const FetchRequest& request, const cache::Cache& cache,
                           const FetchOptions& options);

/// Downloads `url` to `dest` (temp file + verify + rename, under `dest`'s
/// entry lock), no cache logic and no mirrors. Throws FetchError in offline mode
/// unless the URL is a `file://` URL.
FetchResult download_file(const std::string& url, const std::filesystem::path& dest,
                          const cache::Expectation& expect, const FetchOptions& options,
                          const std::string& label = "");

/// The URL with user:password and query tokens removed, for messages and logs.
std::string sanitize_url(const std::string& url);

/// The last path component of the URL without query/fragment ("vgg19-dcbb9e9d.pth").
std::string url_basename(const std::string& url);

}  // namespace modelzoo::fetch
