// Downloads into the cache: libcurl transfer into `<target>.part`, SHA-256
// while streaming, verification, rename. See fetch.h for the overall policy.
#include "modelzoo/fetch/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/env.h"
#include "modelzoo/error.h"
#include "internal.h"

namespace modelzoo::fetch {


namespace detail {

// ---------------------------------------------------------------------------
// Small helpers

void curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}


// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Helpers

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::string sha256_of(const std::string& s) {
  cache::Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

/// A hint for a body that is not the weights file but a web page (a login,
/// error or captive-portal page answered with 200); "" otherwise.
std::string html_hint(const std::string& head, const std::string& content_type) {
  std::string start = lower(head.substr(0, 256));
  const auto first = start.find_first_not_of(" \t\r\n");
  start = first == std::string::npos ? std::string() : start.substr(first);
  const bool html_type = lower(content_type).find("text/html") != std::string::npos;
  bool html_body = false;
  for (const char* tag : {"<!doctype html", "<html", "<head", "<body", "<?xml", "<title"}) {
    if (start.rfind(tag, 0) == 0) html_body = true;
  }
  if (!html_type && !html_body) return "";
  std::string why = html_body ? "the content looks like HTML" : "";
  if (html_type) why += std::string(html_body ? " and " : "the content type is ") + "text/html";
  return "; " + why +
         ", not a weights file: the server (or a proxy or captive portal in between) answered with a web page, "
         "e.g. a login or error page";
}

/// Extra words for errors that mean the disk (or the file size limit) is full.
std::string space_hint(int err) {
  if (err == ENOSPC || err == EDQUOT) return " (no space left on the device holding the cache; free some space or "
                                             "point MODELZOO_CACHE at another directory)";
  if (err == EFBIG) return " (the file size limit was reached: see `ulimit -f`; no space to store the download)";
  return "";
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string scheme_of(const std::string& url) {
  const auto p = url.find("://");
  return p == std::string::npos ? std::string() : lower(url.substr(0, p));
}

/// Seconds from a Retry-After value (delta-seconds or an HTTP date).
std::optional<double> parse_retry_after(const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (auto secs = parse_u64(value)) return static_cast<double>(*secs);
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

double backoff_seconds(const FetchOptions& o, int retry, const std::optional<double>& retry_after) {
  if (retry_after) return std::min(*retry_after, o.backoff_max_seconds);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double base = std::min(o.backoff_max_seconds, o.backoff_initial_seconds * std::pow(2.0, retry - 1));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return base * jitter(rng);
}

bool is_tls_error(CURLcode c) {
  switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

bool is_transient_error(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool is_transient_status(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

bool parse_content_range(const std::string& cr, uint64_t* first, uint64_t* last, std::optional<uint64_t>* total) {
  if (cr.rfind("bytes ", 0) != 0) return false;
  const auto dash = cr.find('-');
  const auto slash = cr.find('/');
  if (dash == std::string::npos || slash == std::string::npos || dash > slash) return false;
  const auto f = parse_u64(trim(cr.substr(6, dash - 6)));
  const auto l = parse_u64(trim(cr.substr(dash + 1, slash - dash - 1)));
  if (!f || !l || *l < *f) return false;
  *first = *f;
  *last = *l;
  *total = parse_u64(trim(cr.substr(slash + 1)));
  return true;
}


std::optional<PartMeta> read_meta(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(in);
    if (j.contains("ranges")) return std::nullopt;  // a ranged download's record (ranged.cpp)
    PartMeta m;
    m.url_hash = j.at("url_sha256").get<std::string>();
    m.etag = j.value("etag", "");
    m.last_modified = j.value("last_modified", "");
    return m;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // unusable: the download restarts from zero
  }
}

void write_meta(const fs::path& p, const PartMeta& m) {
  const nlohmann::json j = {{"url_sha256", m.url_hash}, {"etag", m.etag}, {"last_modified", m.last_modified}};
  std::ofstream out(p, std::ios::trunc);
  out << j.dump() << "\n";
  if (!out) throw CacheError("cannot write " + p.string());
}

bool strong_etag(const std::string& etag) { return !etag.empty() && etag.rfind("W/", 0) != 0; }


Job make_job(const std::string& url, const fs::path& dest, const cache::Expectation& expect,
             const FetchOptions& options, const std::string& label) {
  Job j;
  j.url = url;
  j.shown = sanitize_url(url);
  j.dest = dest;
  j.private_part = options.private_partials || !cache::locks_are_reliable(dest.parent_path());
  if (j.private_part) {
    j.part = cache::private_temp_path(dest);
    j.meta = fs::path(j.part.string() + ".meta");
  } else {
    j.part = fs::path(dest.string() + ".part");
    j.meta = fs::path(dest.string() + ".part.meta");
  }
  j.expect = &expect;
  j.options = &options;
  j.label = label;
  return j;
}

std::string identity_hash(const Job& job) { return sha256_of(job.identity.empty() ? job.url : job.identity); }

void discard_partial(const Job& job) {
  remove_quietly(job.part);
  remove_quietly(job.meta);
}

/// Verifies the completed partial file and publishes it under the final name.
/// `hint` is appended to a mismatch message (see html_hint).
FetchResult finish(Job& job, Fd& fd, cache::Sha256& hasher, uint64_t bytes, bool resumed,
                   const std::string& hint) {
  if (job.sync && ::fdatasync(fd.get()) != 0 && errno != EINVAL) {
    const int err = errno;
    discard_partial(job);
    throw CacheError("cannot flush " + job.part.string() + " (" + job.what() + "): " + std::strerror(err) +
                     space_hint(err));
  }
  // The file about to be renamed must be the one this process wrote: nobody
  // replaced or removed the partial name meanwhile, and it holds exactly the
  // bytes that were hashed.
  struct stat mine {}, named {};
  if (::fstat(fd.get(), &mine) != 0 || ::stat(job.part.c_str(), &named) != 0 || mine.st_dev != named.st_dev ||
      mine.st_ino != named.st_ino || static_cast<uint64_t>(named.st_size) != bytes) {
    fd.reset();
    if (!job.private_part) job.no_resume = true;
    throw TransientError("the partial file " + job.part.string() + " of " + job.what() +
                             " was replaced or changed by someone else during the download; restarting",
                         std::nullopt, /*immediate=*/true);
  }
  fd.reset();
  const cache::Expectation& expect = *job.expect;
  if (expect.size && bytes != *expect.size) {
    discard_partial(job);
    throw HashMismatchError("size mismatch for " + job.what() + ": " + job.shown + " gave " +
                            std::to_string(bytes) + " bytes, expected " + std::to_string(*expect.size) + " bytes" +
                            hint + "; the download was discarded, nothing was stored as " + job.dest.string());
  }
  const std::string digest = hasher.hex_digest();
  if (!cache::digest_matches(expect, digest)) {
    discard_partial(job);
    if (resumed) {
      // The kept prefix may be from another version of the file: start over once.
      job.no_resume = true;
      throw TransientError("sha256 mismatch for " + job.what() + " after resuming " + job.shown +
                               "; restarting from the beginning",
                           std::nullopt, /*immediate=*/true);
    }
    throw HashMismatchError("sha256 mismatch for " + job.what() + ": the file from " + job.shown +
                            " does not match, expected " + job.expected_hash() + ", got " + digest + hint +
                            "; the download was discarded, nothing was stored as " + job.dest.string());
  }
  remove_quietly(cache::stamp_path(job.dest));  // a stamp of a previous file must not describe this one
  std::error_code ec;
  fs::rename(job.part, job.dest, ec);
  if (ec) {
    discard_partial(job);
    throw CacheError("cannot move " + job.part.string() + " to " + job.dest.string() + ": " + ec.message());
  }
  remove_quietly(job.meta);
  FetchResult r;
  r.path = job.dest;
  r.downloaded = true;
  r.url = job.shown;
  r.bytes = bytes;
  r.sha256 = digest;
  return r;
}

Fd open_part(const Job& job, bool append) {
  const int fd = ::open(job.part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0666);
  if (fd < 0) {
    throw CacheError("cannot create " + job.part.string() + " for " + job.what() + ": " + std::strerror(errno));
  }
  return Fd(fd);
}

/// file:// — a local copy with the same verification.
FetchResult copy_local(Job& job) {
  std::string path = job.url.substr(job.url.find("://") + 3);
  if (path.rfind("localhost/", 0) == 0) path = path.substr(9);
  path = percent_decode(path.substr(0, path.find_first_of("?#")));
  if (path.empty() || path.front() != '/') {
    throw FetchError("unsupported file URL " + job.shown + " for " + job.what() +
                     ": expected file:///absolute/path");
  }
  Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) {
    throw FetchError("cannot read " + path + " (from " + job.shown + ") for " + job.what() + ": " +
                     std::strerror(errno));
  }
  Fd out = open_part(job, /*append=*/false);
  remove_quietly(job.meta);
  cache::Sha256 hasher;
  uint64_t bytes = 0;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(src.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      discard_partial(job);
      throw FetchError("cannot read " + path + " for " + job.what() + ": " + why);
    }
    if (n == 0) break;
    if (!write_all(out.get(), buf.data(), static_cast<std::size_t>(n))) {
      const int err = errno;
      discard_partial(job);
      throw CacheError("cannot write " + job.part.string() + " for " + job.what() + ": " + std::strerror(err) +
                       space_hint(err));
    }
    hasher.update(buf.data(), static_cast<std::size_t>(n));
    bytes += static_cast<uint64_t>(n);
    job.received += static_cast<uint64_t>(n);
  }
  return finish(job, out, hasher, bytes, /*resumed=*/false);
}

// ---------------------------------------------------------------------------
// Hashing beside the transfer

/// SHA-256 on a second thread, so that hashing overlaps with receiving and
/// writing: the transfer copies each chunk into 1 MiB blocks (after writing
/// it to the partial file, so the file always holds every byte received) and
/// hands full blocks over; a small pool bounds the memory and makes the
/// transfer wait when hashing falls behind.
class BackgroundHasher {
 public:
  explicit BackgroundHasher(cache::Sha256 start) : hasher_(std::move(start)) {
    for (int i = 0; i < kBlocks; ++i) {
      pool_.push_back(std::make_unique<std::vector<char>>());
      pool_.back()->reserve(kBlockSize);
    }
    worker_ = std::thread([this] { run(); });
  }
  ~BackgroundHasher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  BackgroundHasher(const BackgroundHasher&) = delete;
  BackgroundHasher& operator=(const BackgroundHasher&) = delete;

  /// Adds bytes (in order).
  void update(const char* data, std::size_t n) {
    while (n > 0) {
      if (!current_) current_ = take_free();
      const std::size_t k = std::min(n, kBlockSize - current_->size());
      current_->insert(current_->end(), data, data + k);
      data += k;
      n -= k;
      if (current_->size() == kBlockSize) hand_over();
    }
  }

  /// Waits until every byte given so far is hashed, then replaces the state
  /// with `fresh` (a restart from byte zero).
  void reset(cache::Sha256 fresh) {
    if (current_) {
      current_->clear();
      give_back(std::move(current_));
    }
    wait_idle();
    hasher_ = std::move(fresh);
  }

  /// Hashes what is left and returns the digest state; the object is spent.
  cache::Sha256 finish() {
    if (current_ && !current_->empty()) hand_over();
    wait_idle();
    return std::move(hasher_);
  }

 private:
  static constexpr std::size_t kBlockSize = 1 << 20;
  static constexpr int kBlocks = 8;
  using Block = std::unique_ptr<std::vector<char>>;

  Block take_free() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !pool_.empty(); });
    Block b = std::move(pool_.back());
    pool_.pop_back();
    return b;
  }
  void give_back(Block b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pool_.push_back(std::move(b));
    }
    cv_.notify_all();
  }
  void hand_over() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(current_));
    }
    cv_.notify_all();
  }
  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      Block b = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      hasher_.update(b->data(), b->size());
      b->clear();
      lock.lock();
      busy_ = false;
      pool_.push_back(std::move(b));
      cv_.notify_all();
    }
  }

  cache::Sha256 hasher_;  // touched by the worker only while it is busy
  Block current_;         // the block being filled (transfer thread only)
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Block> pool_;
  std::deque<Block> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

// ---------------------------------------------------------------------------
// One HTTP(S) attempt

struct Transfer {
  Job* job = nullptr;
  Fd* fd = nullptr;
  std::unique_ptr<BackgroundHasher> hasher;
  uint64_t resume_from = 0;
  uint64_t bytes = 0;  // bytes in the partial file
  bool resumed = false;

  // Headers of the latest response (reset on every status line: redirects).
  long status = 0;
  std::string etag, last_modified, content_range, retry_after, content_type, accept_ranges;
  std::optional<uint64_t> content_length;
  std::string head;  ///< first bytes of the 2xx body, to recognise an HTML page

  bool body_started = false;
  std::optional<uint64_t> total;

  enum class Abort { None, Size, Write, Range, Split } abort = Abort::None;
  std::string abort_message;
  std::exception_ptr callback_error;

  Clock::time_point started = Clock::now();
  Clock::time_point last_progress{};
  uint64_t start_bytes = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const std::string line = trim(std::string(data, size * n));
  if (line.rfind("HTTP/", 0) == 0) {
    std::istringstream ss(line);
    std::string version;
    ss >> version >> t->status;
    t->etag.clear();
    t->last_modified.clear();
    t->content_range.clear();
    t->retry_after.clear();
    t->content_type.clear();
    t->accept_ranges.clear();
    t->content_length.reset();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string name = lower(trim(line.substr(0, colon)));
  const std::string value = trim(line.substr(colon + 1));
  if (name == "etag") t->etag = value;
  else if (name == "last-modified") t->last_modified = value;
  else if (name == "content-range") t->content_range = value;
  else if (name == "retry-after") t->retry_after = value;
  else if (name == "content-length") t->content_length = parse_u64(value);
  else if (name == "content-type") t->content_type = value;
  else if (name == "accept-ranges") t->accept_ranges = lower(value);
  return size * n;
}

void report_progress(Transfer* t, bool final) {
  const auto& cb = t->job->options->on_progress;
  if (!cb) return;
  const auto now = Clock::now();
  if (!final && now - t->last_progress < std::chrono::milliseconds(100)) return;
  t->last_progress = now;
  const double secs = std::chrono::duration<double>(now - t->started).count();
  Progress p;
  p.bytes = t->bytes;
  p.total = t->total;
  p.bytes_per_second = secs > 0 ? static_cast<double>(t->bytes - t->start_bytes) / secs : 0.0;
  p.url = t->job->shown;
  cb(p);
}

/// Called when the first body byte of a 2xx answer arrives (or at the end for
/// an empty body). Decides between resume and restart; false aborts.
bool begin_body(Transfer* t) {
  const Job& job = *t->job;
  if (t->status == 206) {
    uint64_t first = 0, last = 0;
    std::optional<uint64_t> total;
    const std::string& cr = t->content_range;
    const bool ok = parse_content_range(cr, &first, &last, &total);
    if (!ok || t->resume_from == 0 || first != t->resume_from) {
      t->abort = Transfer::Abort::Range;
      t->abort_message = "server answered 206 with Content-Range \"" + cr + "\" but the download resumes at byte " +
                         std::to_string(t->resume_from);
      return false;
    }
    t->total = total;
    t->resumed = true;
  } else {
    if (t->bytes > 0) {
      // A full answer to a range request (validator changed, or no range
      // support): start again from byte zero.
      if (::ftruncate(t->fd->get(), 0) != 0) {
        t->abort = Transfer::Abort::Write;
        t->abort_message = std::string("cannot truncate: ") + std::strerror(errno);
        return false;
      }
      t->hasher->reset(cache::Sha256());
      t->bytes = 0;
      t->start_bytes = 0;
    }
    t->resume_from = 0;
    t->resumed = false;
    t->total = t->content_length;
    // The size was not known in advance: a large file from a server that
    // offers ranges and a strong validator goes over several connections
    // instead (nothing of this answer is written).
    const FetchOptions& o = *job.options;
    if (!job.single_stream && !job.expect->size && o.connections > 1 && t->content_length &&
        *t->content_length >= 2 * o.min_range_bytes && t->accept_ranges == "bytes" &&
        (strong_etag(t->etag) || !t->last_modified.empty())) {
      t->abort = Transfer::Abort::Split;
      return false;
    }
    PartMeta m;
    m.url_hash = identity_hash(job);
    m.etag = strong_etag(t->etag) ? t->etag : "";
    m.last_modified = t->last_modified;
    try {
      if (!m.etag.empty() || !m.last_modified.empty()) write_meta(job.meta, m);
      else remove_quietly(job.meta);
    } catch (const Error&) {
      remove_quietly(job.meta);  // without a validator the download just cannot be resumed
    }
  }
  const auto& expect = *job.expect;
  if (expect.size && t->total && *t->total != *expect.size) {
    t->abort = Transfer::Abort::Size;
    t->abort_message = "the server announces " + std::to_string(*t->total) + " bytes, expected " +
                       std::to_string(*expect.size) + " bytes" + html_hint(t->head, t->content_type);
    return false;
  }
  t->body_started = true;
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t len = size * n;
  if (t->status < 200 || t->status > 299) return len;  // error pages and redirects are not the file
  if (!t->body_started) {
    t->head.assign(data, std::min<size_t>(len, 512));
    if (!begin_body(t)) return 0;
  }
  const auto& expect = *t->job->expect;
  if (expect.size && t->bytes + len > *expect.size) {
    t->abort = Transfer::Abort::Size;
    t->abort_message = "the server sent more than the expected " + std::to_string(*expect.size) + " bytes";
    return 0;
  }
  if (!write_all(t->fd->get(), data, len)) {
    const int err = errno;
    t->abort = Transfer::Abort::Write;
    t->abort_message = std::string(std::strerror(err)) + space_hint(err);
    return 0;
  }
  t->hasher->update(data, len);
  t->bytes += len;
  t->job->received += len;
  try {
    report_progress(t, false);
  } catch (...) {
    t->callback_error = std::current_exception();
    return 0;
  }
  return len;
}

/// Hashes the first `n` bytes of the partial file into `h`; false when unreadable.
bool hash_prefix(const fs::path& part, uint64_t n, cache::Sha256& h) {
  Fd fd(::open(part.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  std::vector<char> buf(1 << 20);
  while (n > 0) {
    const ssize_t r = ::read(fd.get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(n, buf.size())));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    h.update(buf.data(), static_cast<size_t>(r));
    n -= static_cast<uint64_t>(r);
  }
  return true;
}

void configure_easy(CURL* h, const Job& job, char* errbuf) {
  const FetchOptions& o = *job.options;
  curl_easy_setopt(h, CURLOPT_URL, job.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_seconds);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o.low_speed_limit_bytes);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o.low_speed_time_seconds);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // Verification is never switched off; only the trust anchors can be chosen.
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!o.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_USERAGENT, "modelzoo/0.1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);  // fewer, larger writes
}

std::string curl_failure_message(CURL* h, CURLcode rc, const Job& job, const char* errbuf) {
  const std::string detail = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
  const std::string where = job.where();
  if (rc == CURLE_TOO_MANY_REDIRECTS) {
    char* next = nullptr;
    char* last = nullptr;
    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &last);
    const char* shown_next = next != nullptr ? next : last;
    return "too many redirects for " + where + ": more than " + std::to_string(kMaxRedirects) +
           " (a redirect loop?); the last one pointed to " +
           (shown_next != nullptr ? sanitize_url(shown_next) : std::string("?")) + " (" + detail + ")";
  }
  if (is_tls_error(rc)) {
    const FetchOptions& o = *job.options;
    return "TLS verification failed for " + where + ": " + detail + " (trusted CAs: " +
           (o.ca_file.empty() ? std::string("libcurl's default bundle") : o.ca_file) +
           "; TLS verification cannot be disabled, point SSL_CERT_FILE at the right CA bundle)";
  }
  return "downloading " + where + " failed: " + detail;
}

/// "HTTP 404 (Not Found) for <url> (<label>, into <path>)".
std::string http_status_message(long status, const Job& job) {
  std::string reason;
  switch (status) {
    case 401: reason = " (Unauthorized)"; break;
    case 403: reason = " (Forbidden)"; break;
    case 404: reason = " (Not Found)"; break;
    case 410: reason = " (Gone)"; break;
    case 429: reason = " (Too Many Requests)"; break;
    case 500: reason = " (Internal Server Error)"; break;
    case 502: reason = " (Bad Gateway)"; break;
    case 503: reason = " (Service Unavailable)"; break;
    case 504: reason = " (Gateway Timeout)"; break;
    default: break;
  }
  return "HTTP " + std::to_string(status) + " for " + job.shown + reason + " (" + job.what() + ", into " +
         job.dest.string() + ")";
}

FetchResult attempt_http(Job& job) {
  Transfer t;
  t.job = &job;
  cache::Sha256 prefix_hash;

  // Resume only what this URL produced, with a validator to make it safe.
  uint64_t prefix = 0;
  std::string if_range;
  const bool first_attempt = !job.started;
  job.started = true;
  if (!job.no_resume) {
    std::error_code ec;
    const auto size = fs::file_size(job.part, ec);
    const auto meta = read_meta(job.meta);
    const bool usable = !ec && size > 0 && meta && meta->url_hash == identity_hash(job) &&
                        (!meta->etag.empty() || !meta->last_modified.empty());
    if (usable && job.expect->size && size == *job.expect->size) {
      // Complete, but never published (the process died between its last
      // byte and the rename): verify it without asking the server again. A
      // mismatch discards it and restarts (finish() with resumed = true).
      cache::Sha256 whole;
      if (hash_prefix(job.part, size, whole)) {
        Fd fd = open_part(job, /*append=*/true);
        if (first_attempt) job.reused = size;
        FetchResult r = finish(job, fd, whole, size, /*resumed=*/true);
        job.published_kept = first_attempt;
        return r;
      }
    }
    if (usable && (!job.expect->size || size < *job.expect->size)) {
      if (hash_prefix(job.part, size, prefix_hash)) {
        prefix = size;
        if_range = !meta->etag.empty() ? meta->etag : meta->last_modified;
        if (first_attempt) job.reused = size;
      } else {
        prefix_hash = cache::Sha256();
      }
    }
  }
  if (prefix == 0) discard_partial(job);
  Fd fd = open_part(job, /*append=*/prefix > 0);
  t.fd = &fd;
  t.hasher = std::make_unique<BackgroundHasher>(std::move(prefix_hash));
  t.resume_from = prefix;
  t.bytes = prefix;
  t.start_bytes = prefix;
  job.connections_used = std::max(job.connections_used, 1);

  Easy easy;
  CURL* h = easy.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  HeaderList headers;
  const std::string range = std::to_string(prefix) + "-";
  if (prefix > 0) headers.append("If-Range: " + if_range);
  for (const auto& extra : job.headers) headers.append(extra);
  configure_easy(h, job, errbuf);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  if (prefix > 0) curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode rc = curl_easy_perform(h);
  cache::Sha256 digest_state = t.hasher->finish();
  const std::string where = job.where();
  if (t.callback_error) {
    discard_partial(job);
    std::rethrow_exception(t.callback_error);
  }
  switch (t.abort) {
    case Transfer::Abort::Size:
      discard_partial(job);
      throw HashMismatchError("size mismatch for " + where + ": " + t.abort_message + "; the download was discarded");
    case Transfer::Abort::Write:
      discard_partial(job);
      throw CacheError("cannot write " + job.part.string() + " while downloading " + job.what() + " from " +
                       job.shown + ": " + t.abort_message);
    case Transfer::Abort::Range:
      discard_partial(job);
      job.no_resume = true;
      throw TransientError("resuming " + where + " failed: " + t.abort_message + "; restarting", std::nullopt,
                           /*immediate=*/true);
    case Transfer::Abort::Split:
      discard_partial(job);
      job.size_hint = t.content_length;
      throw TransientError("switching " + where + " to parallel ranges", std::nullopt, /*immediate=*/true);
    case Transfer::Abort::None:
      break;
  }
  if (rc != CURLE_OK) {
    if (is_transient_error(rc)) {
      const std::string detail = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
      throw TransientError("downloading " + where + " failed after " + std::to_string(t.bytes) +
                           " bytes: " + detail);
    }
    discard_partial(job);
    throw FetchError(curl_failure_message(h, rc, job, errbuf));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    if (status == 416) {
      discard_partial(job);
      job.no_resume = true;
      throw TransientError("HTTP 416 (range not satisfiable) for " + where + " when resuming at byte " +
                               std::to_string(prefix) + "; restarting",
                           std::nullopt, /*immediate=*/true);
    }
    const std::string msg = http_status_message(status, job);
    if (is_transient_status(status)) throw TransientError(msg, parse_retry_after(t.retry_after));
    discard_partial(job);
    throw FetchError(msg);
  }
  if (!t.body_started && !begin_body(&t)) {  // empty body
    discard_partial(job);
    throw HashMismatchError("size mismatch for " + where + ": " + t.abort_message + "; the download was discarded");
  }
  if (t.total && t.bytes != *t.total) {
    throw TransientError("downloading " + where + " ended after " + std::to_string(t.bytes) + " of " +
                         std::to_string(*t.total) + " bytes");
  }
  report_progress(&t, true);
  return finish(job, fd, digest_state, t.bytes, t.resumed, html_hint(t.head, t.content_type));
}

/// One source with bounded retries of transient failures. Attempts that
/// added bytes to the partial file do not count against max_attempts.
FetchResult fetch_url_attempts(Job& job) {
  const std::string scheme = scheme_of(job.url);
  if (scheme == "file") return copy_local(job);
  if (scheme != "http" && scheme != "https") {
    throw FetchError("unsupported URL " + job.shown + " for " + job.what() +
                     ": expected an http://, https:// or file:// URL");
  }
  if (job.options->offline) {
    const std::string& origin = job.options->offline_origin;
    throw FetchError("offline mode" + (origin.empty() ? std::string() : " (" + origin + ")") +
                     ": not downloading " + job.what() + " from " + job.shown + " into " + job.dest.string());
  }
  const int attempts = std::max(1, job.options->max_attempts);
  int restarts = 0;  // immediate restarts (unusable partial file) do not use up attempts, up to a bound
  int failures = 0;  // attempts that made no progress
  uint64_t best = 0; // most bytes the partial file held after a failed attempt
  for (int attempt = 1;; ++attempt) {
    try {
      if (wants_ranges(job)) {
        if (auto r = attempt_ranged(job)) return *r;
        job.single_stream = true;  // the server does not serve ranges reliably
        --attempt;
        continue;
      }
      return attempt_http(job);
    } catch (const TransientError& e) {
      if (e.immediate && restarts < 4) {
        ++restarts;
        --attempt;
        continue;
      }
      // The ranged path retries per range itself; its transient errors are final.
      std::error_code ec;
      const uint64_t held = fs::file_size(job.part, ec);
      // max_attempts == 1 means no retry at all, whatever the progress.
      const bool progress = attempts > 1 && !ec && !e.immediate && held > best;
      if (progress) best = held;
      else ++failures;
      if (failures >= attempts || attempt >= kMaxAttemptsWithProgress) {
        // Keep a partial file only if a later run can resume it.
        if (job.private_part || !fs::exists(job.meta)) discard_partial(job);
        throw FetchError(std::string(e.what()) + " (gave up after " + std::to_string(attempt) +
                         (attempt == 1 ? " attempt)" : " attempts)"));
      }
      if (!e.immediate) {
        const double delay = backoff_seconds(*job.options, progress ? 1 : failures, e.retry_after);
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      }
    }
  }
}

/// fetch_url_attempts, with what happened copied into the result.
FetchResult fetch_url(Job& job) {
  FetchResult r = fetch_url_attempts(job);
  r.bytes_transferred = job.received;
  r.bytes_reused = job.reused;
  r.resumed = job.reused > 0 && !job.published_kept;
  r.published_kept_part = job.published_kept;
  r.connections = job.connections_used;
  return r;
}

std::string join_url(const std::string& base, const std::string& file_name) {
  if (!base.empty() && base.back() == '/') return base + file_name;
  return base + "/" + file_name;
}

std::string offline_message(const FetchRequest& request, const std::string& file_name, const cache::Cache& cache,
                            const cache::Lookup& lookup, const std::string& options_origin) {
  const std::string what = request.label.empty() ? file_name : request.label;
  const std::string& origin = options_origin;
  std::string msg = "offline mode" + (origin.empty() ? std::string() : " (" + origin + ")") + ": " + what +
                    " needs " + file_name;
  if (lookup.mismatch) {
    msg += "; the cached " + lookup.path.string() + " does not match the expected sha256 " +
           lower(request.expect.sha256) +
           (lookup.actual_sha256.empty() ? " (its size differs)" : " (it hashes to " + lookup.actual_sha256 + ")") +
           " and offline mode cannot download it again";
  } else {
    msg += ", which is not in the cache; searched:";
    for (const auto& dir : cache.search_path()) msg += " " + dir.string();
  }
  msg += ". To fill the cache: run `cache_tool fetch " + (request.label.empty() ? file_name : request.label) +
         "` where the network is reachable and copy " + file_name + " into " + cache.options().root.string() +
         ", or run `cache_tool import <path to " + file_name + ">`";
  return msg;
}

/// Takes `target`'s entry lock. With a progress callback, a waiter reports
/// the size of the holder's partial file about every 100 ms (never less than
/// before) and `*waited` says whether it had to wait.
std::unique_ptr<cache::EntryLock> lock_entry(const fs::path& target, const std::string& url,
                                             const std::optional<uint64_t>& total, const FetchOptions& options,
                                             bool* waited) {
  *waited = false;
  if (!options.on_progress) return std::make_unique<cache::EntryLock>(target);
  const fs::path part(target.string() + ".part");
  const fs::path meta(target.string() + ".part.meta");
  const std::string shown = sanitize_url(url);
  const auto started = Clock::now();
  std::optional<uint64_t> first;
  uint64_t last = 0;
  return std::make_unique<cache::EntryLock>(target, [&] {
    *waited = true;
    std::error_code ec;
    // A ranged download's partial file has its full size from the start: its
    // record says how much of it is there.
    bool ranged = false;
    const auto done = ranged_done_bytes(meta, &ranged);
    const auto size = done ? *done : fs::file_size(part, ec);
    if (!ec && (done || !ranged)) {  // a record caught mid-rewrite says nothing this time
      if (!first) first = size;
      last = std::max<uint64_t>(last, size);
    }
    Progress p;
    p.bytes = last;
    p.total = total;
    const double secs = std::chrono::duration<double>(Clock::now() - started).count();
    p.bytes_per_second = first && secs > 0 ? static_cast<double>(last - *first) / secs : 0.0;
    p.url = shown;
    p.waiting = true;
    options.on_progress(p);
  });
}

FetchResult hit(const cache::Lookup& l) {
  FetchResult r;
  r.path = l.path;
  r.downloaded = false;
  std::error_code ec;
  r.bytes = fs::file_size(l.path, ec);
  r.sha256 = l.sha256;
  return r;
}

}  // namespace detail

using namespace detail;

// ---------------------------------------------------------------------------

FetchOptions FetchOptions::from_env() {
  FetchOptions o;
  o.offline = env::truthy(env::get("MODELZOO_OFFLINE"));
  if (auto m = env::get("MODELZOO_MIRROR")) {
    for (const auto& piece : env::split(*m, ',')) {
      const std::string base = trim(piece);
      if (!base.empty()) o.mirrors.push_back(base);
    }
  }
  if (auto ca = env::get("SSL_CERT_FILE")) o.ca_file = *ca;
  if (o.offline) o.offline_origin = "MODELZOO_OFFLINE";
  // A whole number within [lo, hi], else an error naming the variable.
  auto number = [](const char* name, long lo, long hi) -> std::optional<long> {
    const auto v = env::get(name);
    if (!v) return std::nullopt;
    const auto n = parse_u64(trim(*v));
    if (!n || *n < static_cast<uint64_t>(lo) || *n > static_cast<uint64_t>(hi)) {
      throw FetchError(std::string(name) + ": expected a whole number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", got \"" + *v + "\"");
    }
    return static_cast<long>(*n);
  };
  if (auto n = number("MODELZOO_CONNECTIONS", 1, kMaxConnections)) o.connections = static_cast<int>(*n);
  if (auto n = number("MODELZOO_TIMEOUT", 1, 86400)) {
    o.connect_timeout_seconds = *n;
    o.low_speed_time_seconds = *n;
  }
  if (auto n = number("MODELZOO_RETRIES", 0, 100)) o.max_attempts = static_cast<int>(*n) + 1;
  o.hf = HfOptions::from_env();
  return o;
}

FetchResult download_file(const std::string& url, const fs::path& dest, const cache::Expectation& expect,
                          const FetchOptions& options, const std::string& label) {
  bool waited = false;
  const auto lock = lock_entry(dest, url, expect.size, options, &waited);
  Job job = make_job(url, dest, expect, options, label);
  return fetch_url(job);
}

FetchResult fetch_to_cache(const FetchRequest& request, const cache::Cache& cache, const FetchOptions& options) {
  const std::string file_name = request.file_name.empty() ? url_basename(request.url) : request.file_name;
  if (file_name.empty()) {
    throw FetchError("cannot derive a cache file name from " + sanitize_url(request.url) + " for " +
                     (request.label.empty() ? std::string("this download") : request.label) +
                     ": expected a URL ending in a file name, or an explicit file name");
  }
  const fs::path target = cache.target_path(file_name);

  cache::Lookup l = cache.find(file_name, request.expect, /*verify_unstamped=*/true);
  if (l.state == cache::EntryState::Verified) return hit(l);
  if (options.offline && scheme_of(request.url) != "file") {
    throw CacheError(offline_message(request, file_name, cache, l, options.offline_origin));
  }

  bool waited = false;
  const auto lock = lock_entry(target, request.url, request.expect.size, options, &waited);
  // Whoever held the lock before us may have just finished this very file.
  l = cache.find(file_name, request.expect, /*verify_unstamped=*/true);
  if (l.state == cache::EntryState::Verified) {
    FetchResult r = hit(l);
    if (waited) {
      Progress p;
      p.bytes = r.bytes;
      p.total = r.bytes;
      p.url = sanitize_url(request.url);
      p.waiting = true;
      options.on_progress(p);
    }
    return r;
  }

  std::vector<std::string> sources;
  if (!options.offline) {
    for (const auto& base : options.mirrors) sources.push_back(join_url(base, file_name));
  }
  sources.push_back(request.url);

  std::vector<std::string> failures;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    Job job = make_job(sources[i], target, request.expect, options, request.label);
    job.sync = false;
    try {
      FetchResult r = fetch_url(job);
      cache.write_stamp(r.path, r.sha256, /*durable=*/false);
      for (const auto& f : failures) {
        r.warnings.push_back("skipped a source for " + job.what() + ": " + f + "; used " + job.shown + " instead");
      }
      return r;
    } catch (const CacheError&) {
      throw;  // a local problem: another source would not help
    } catch (const FetchError& e) {
      if (sources.size() == 1) throw;
      failures.push_back(e.what());
      if (i + 1 == sources.size()) {
        std::string msg = "every source failed for " + (request.label.empty() ? file_name : request.label) + " (" +
                          target.string() + "):";
        for (std::size_t k = 0; k < failures.size(); ++k) {
          msg += " [" + std::to_string(k + 1) + "] " + failures[k] + ";";
        }
        msg.pop_back();
        if (dynamic_cast<const HashMismatchError*>(&e) != nullptr) throw HashMismatchError(msg);
        throw FetchError(msg);
      }
    }
  }
  throw FetchError("no source to fetch " + file_name + " from");  // unreachable: sources is never empty
}

}  // namespace modelzoo::fetch
