#pragma once
// Pieces shared by the fetch stage's translation units (fetch.cpp: one
// connection, file://, the cache logic; ranged.cpp: parallel ranges). Not
// installed; nothing outside src/fetch includes it.

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"

namespace modelzoo::fetch::detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// curl_global_init, once per process.
void curl_global();

/// Owns one CURL easy handle.
class Easy {
 public:
  Easy() {
    curl_global();
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw FetchError("libcurl: curl_easy_init failed");
  }
  ~Easy() { curl_easy_cleanup(handle_); }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  CURL* get() const { return handle_; }

 private:
  CURL* handle_ = nullptr;
};

/// Owns a curl_slist of request headers.
class HeaderList {
 public:
  HeaderList() = default;
  ~HeaderList() { curl_slist_free_all(list_); }
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  void append(const std::string& h) { list_ = curl_slist_append(list_, h.c_str()); }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

/// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Errors internal to the retry loop

/// A failure that may go away when the request is repeated.
class TransientError : public FetchError {
 public:
  TransientError(const std::string& what, std::optional<double> retry_after = std::nullopt,
                 bool immediate = false)
      : FetchError(what), retry_after(retry_after), immediate(immediate) {}
  std::optional<double> retry_after;  ///< server's Retry-After, seconds
  bool immediate;                     ///< repeat without waiting (a restart, not an outage)
};

// ---------------------------------------------------------------------------
// The partial file's sidecar: which URL it came from and its validators.

struct PartMeta {
  std::string url_hash;
  std::string etag;
  std::string last_modified;
};

/// Lower-cased copy.
std::string lower(std::string s);
/// Without leading and trailing blanks.
std::string trim(const std::string& s);
/// A decimal number of at most 19 digits, else nullopt.
std::optional<uint64_t> parse_u64(const std::string& s);
/// Hex SHA-256 of a string.
std::string sha256_of(const std::string& s);
/// fs::remove, ignoring errors.
void remove_quietly(const fs::path& p);
/// "; the content looks like HTML ..." for a web page answered as the file, else "".
std::string html_hint(const std::string& head, const std::string& content_type);
/// Words for ENOSPC / EDQUOT / EFBIG, else "".
std::string space_hint(int err);
/// Seconds from a Retry-After value.
std::optional<double> parse_retry_after(const std::string& value);
/// Delay before retry number `retry` (1-based), Retry-After capped.
double backoff_seconds(const FetchOptions& o, int retry, const std::optional<double>& retry_after);
/// A TLS failure (fails at once).
bool is_tls_error(CURLcode c);
/// A network failure worth repeating.
bool is_transient_error(CURLcode c);
/// 408, 429, 5xx.
bool is_transient_status(long status);
/// A strong ETag (not W/"...").
bool strong_etag(const std::string& etag);
/// Reads the single-connection sidecar; nullopt when absent or unreadable.
std::optional<PartMeta> read_meta(const fs::path& p);
/// "bytes <first>-<last>/<total>" (total may be "*"); false when malformed.
bool parse_content_range(const std::string& value, uint64_t* first, uint64_t* last, std::optional<uint64_t>* total);

/// The largest number of redirects followed.
constexpr long kMaxRedirects = 10;
/// Attempts of one transfer (or one range) in all, counting those that made progress.
constexpr int kMaxAttemptsWithProgress = 1000;

// ---------------------------------------------------------------------------
// One download job (one URL into one destination)

struct Job {
  std::string url;    ///< as given (may carry credentials)
  std::string shown;  ///< sanitised, for messages
  fs::path dest;
  fs::path part;
  fs::path meta;
  const cache::Expectation* expect = nullptr;
  const FetchOptions* options = nullptr;
  std::string label;
  /// What names the file's version for resume records, when not the URL
  /// (the Hub's CDN URLs are signed anew for every request; the ETag is stable).
  std::string identity;
  /// Request headers sent with every request of the job ("Name: value"),
  /// e.g. the Hub's Authorization for a file served by the Hub's own host.
  std::vector<std::string> headers;
  bool no_resume = false;  ///< set after a resumed file failed verification
  /// fdatasync before the rename. fetch_to_cache skips it and stamps the
  /// file for this boot only (Cache::write_stamp with durable = false): a
  /// crash before the kernel writes the data back then costs a rehash, not
  /// the wait for the disk on every download.
  bool sync = true;
  /// `part` is private to this process (`<dest>.@<host>.<pid>.<n>.mztmp`):
  /// used where flock cannot be trusted; not resumed by later runs.
  bool private_part = false;
  /// The size a first answer announced when the expectation has none
  /// (Content-Length of a server that serves ranges): the ranges are planned from it.
  std::optional<uint64_t> size_hint;
  /// Ranges were ruled out (the server ignores or mishandles them): one connection.
  bool single_stream = false;
  bool started = false;        ///< the first attempt has decided what to keep of an earlier run
  uint64_t reused = 0;         ///< bytes of an earlier run's partial file that were kept
  uint64_t received = 0;       ///< body bytes received from the network in this call
  bool published_kept = false; ///< a complete partial file was published without a request
  int connections_used = 0;    ///< most connections open at once

  /// The total size when known in advance (expectation, else a first answer).
  std::optional<uint64_t> known_size() const { return expect->size ? expect->size : size_hint; }
  /// "<label> from <url> into <path>", for messages.
  std::string where() const { return what() + " from " + shown + " into " + dest.string(); }
  std::string what() const { return label.empty() ? dest.filename().string() : label; }
  std::string expected_hash() const {
    if (expect->sha256.empty()) return "(any)";
    return lower(expect->sha256) + (expect->sha256_is_prefix ? " (prefix)" : "");
  }
};

/// A job for `url` into `dest` (shared `.part` or a private partial, see FetchOptions::private_partials).
Job make_job(const std::string& url, const fs::path& dest, const cache::Expectation& expect,
             const FetchOptions& options, const std::string& label);
/// Removes the partial file and its sidecar.
void discard_partial(const Job& job);
/// The hash that resume records keep of the job's identity (Job::identity, else the URL).
std::string identity_hash(const Job& job);
/// One source with bounded retries, what happened copied into the result
/// (no lock, no mirrors: the caller holds the entry's lock).
FetchResult fetch_url(Job& job);
/// Verifies the completed partial file (`bytes` long, hashed into `hasher`)
/// and renames it to the final name. Throws HashMismatchError, CacheError, or
/// TransientError (immediate) when a resumed file must be fetched again.
FetchResult finish(Job& job, Fd& fd, cache::Sha256& hasher, uint64_t bytes, bool resumed,
                   const std::string& hint = "");
/// The options every HTTP request of a job shares (timeouts, TLS, redirects, user agent).
void configure_easy(CURL* h, const Job& job, char* errbuf);
/// The message of a failed transfer that is not transient (redirect loop, TLS,
/// other curl errors), naming the URL, the model and the target path.
std::string curl_failure_message(CURL* h, CURLcode rc, const Job& job, const char* errbuf);

/// "HTTP 404 (Not Found) for <url> (<label>, into <path>)".
std::string http_status_message(long status, const Job& job);

/// Parallel ranged download of `job` (size known: the expectation or
/// `job.size_hint`). nullopt when the server turned out not to serve ranges
/// reliably: the partial file is discarded and the caller downloads over one
/// connection. Throws like one attempt of the single-connection path.
std::optional<FetchResult> attempt_ranged(Job& job);
/// Whether `job` goes over several connections: FetchOptions::connections > 1,
/// a known size of at least twice FetchOptions::min_range_bytes, and no
/// single-connection partial file to resume.
bool wants_ranges(const Job& job);
/// The bytes a ranged download's record (`<part>.meta`) says are complete;
/// nullopt when it is not a ranged record or cannot be read right now.
/// `*ranged` says whether the file is a ranged record at all.
std::optional<uint64_t> ranged_done_bytes(const fs::path& meta, bool* ranged);

}  // namespace modelzoo::fetch::detail
