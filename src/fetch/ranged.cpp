// Parallel ranged downloads: the file split into ranges fetched at once over
// several connections (libcurl multi), each written at its offset in the one
// partial file, hashed in order by a thread that follows the contiguous
// prefix of completed bytes, and a record of each range's progress so a later
// run resumes. The policy is described in fetch.h.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal.h"

namespace modelzoo::fetch::detail {

namespace {

constexpr uint64_t kRecordEveryBytes = uint64_t{2} << 20;  // rewrite the record after this many new bytes ...
constexpr auto kRecordEvery = std::chrono::milliseconds(100);  // ... or this long with some
constexpr std::size_t kHashBlock = std::size_t{1} << 20;
// A free connection takes the second half of the active range with the most
// bytes left, when each half would be at least this many min_range_bytes
// (16 MiB by default: splitting costs a connection and the bytes in flight).
constexpr uint64_t kMinStolenHalfRanges = 4;
// The probe's pace decides whether the other ranges run at once: a single
// connection that delivers FetchOptions::fast_connection_bytes_per_second
// already (beyond any per-connection cap a WAN or proxy imposes: loopback, a
// LAN) leaves parallel connections nothing to gain and costs the CPU they
// share with hashing, so the ranges then follow one another on it.
// How long the probe's body is watched before deciding (or until it ends).
constexpr auto kPaceWindow = std::chrono::milliseconds(60);

const std::string& this_boot() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string s;
    std::getline(in, s);
    return trim(s);
  }();
  return id;
}

/// [begin, end) of the file; `done` bytes of it, from `begin` on, are written.
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t done = 0;
  int failures = 0;  ///< consecutive attempts that added nothing
  int attempts = 0;
  Clock::time_point not_before{};
  bool active = false;
  bool complete() const { return begin + done >= end; }
  std::string text() const { return std::to_string(begin) + "-" + std::to_string(end - 1); }
};

/// What `<part>.meta` says about a ranged download.
struct Record {
  std::string url_hash;
  std::string etag;
  std::string last_modified;
  std::string boot_id;
  uint64_t total = 0;
  std::vector<Range> ranges;
};

std::string record_text(const Record& r) {
  nlohmann::json ranges = nlohmann::json::array();
  for (const auto& g : r.ranges) ranges.push_back({g.begin, g.end, g.done});
  const nlohmann::json j = {{"url_sha256", r.url_hash}, {"etag", r.etag},   {"last_modified", r.last_modified},
                            {"boot_id", r.boot_id},     {"total", r.total}, {"ranges", ranges}};
  return j.dump();
}

std::optional<Record> parse_record(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(in);
    if (!j.is_object() || !j.contains("ranges")) return std::nullopt;
    Record r;
    r.url_hash = j.at("url_sha256").get<std::string>();
    r.etag = j.value("etag", "");
    r.last_modified = j.value("last_modified", "");
    r.boot_id = j.value("boot_id", "");
    r.total = j.at("total").get<uint64_t>();
    for (const auto& g : j.at("ranges")) {
      Range range;
      range.begin = g.at(0).get<uint64_t>();
      range.end = g.at(1).get<uint64_t>();
      range.done = g.at(2).get<uint64_t>();
      r.ranges.push_back(range);
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // unusable: the download starts over
  }
}

/// The record describes `job`'s partial file: same URL, a validator, this
/// boot (data a crash lost is not trusted), the expected size, a file of
/// exactly that size, and ranges that tile [0, total).
bool record_agrees(const Record& r, const Job& job) {
  if (r.url_hash != identity_hash(job) || (r.etag.empty() && r.last_modified.empty())) return false;
  if (r.boot_id != this_boot()) return false;
  if (job.expect->size && r.total != *job.expect->size) return false;
  std::error_code ec;
  const auto size = fs::file_size(job.part, ec);
  if (ec || size != r.total || r.ranges.empty()) return false;
  uint64_t at = 0;
  for (const auto& g : r.ranges) {
    if (g.begin != at || g.end <= g.begin || g.done > g.end - g.begin) return false;
    at = g.end;
  }
  return at == r.total;
}

/// Equal ranges over [0, total), at most `connections`, none under `min_range` (but at least one).
std::vector<Range> plan(uint64_t total, int connections, uint64_t min_range) {
  const uint64_t n =
      std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(connections), total / std::max<uint64_t>(1, min_range)));
  std::vector<Range> out;
  const uint64_t base = total / n, extra = total % n;
  uint64_t at = 0;
  for (uint64_t i = 0; i < n; ++i) {
    Range r;
    r.begin = at;
    r.end = at + base + (i < extra ? 1 : 0);
    at = r.end;
    out.push_back(r);
  }
  return out;
}

bool pwrite_all(int fd, const char* data, std::size_t n, uint64_t offset) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

/// The record file, rewritten in place by one pwrite (padded with blanks to
/// the longest text so far), so that a process killed at any moment leaves
/// either the previous record or the new one.
class RecordFile {
 public:
  explicit RecordFile(fs::path path) : path_(std::move(path)) {}
  void write(const Record& r, const Job& job) {
    std::string text = record_text(r);
    if (!fd_) {
      fd_ = std::make_unique<Fd>(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
      if (fd_->get() < 0) {
        const int err = errno;
        fd_.reset();
        throw CacheError("cannot write " + path_.string() + " (" + job.what() + "): " + std::strerror(err) +
                         space_hint(err));
      }
    }
    if (text.size() < written_) text.append(written_ - text.size(), ' ');
    const ssize_t w = ::pwrite(fd_->get(), text.data(), text.size(), 0);
    if (w != static_cast<ssize_t>(text.size())) {
      const int err = w < 0 ? errno : ENOSPC;
      throw CacheError("cannot write " + path_.string() + " (" + job.what() + "): " + std::strerror(err) +
                       space_hint(err));
    }
    written_ = text.size();
  }

 private:
  fs::path path_;
  std::unique_ptr<Fd> fd_;
  std::size_t written_ = 0;
};

/// SHA-256 of the partial file in order, on its own thread: it reads back
/// (from the page cache) the bytes of the contiguous completed prefix as it
/// grows, so the digest is ready a moment after the last byte arrives. The
/// bytes are hashed where they lie in the page cache, through a read-only
/// mapping of each block (no copy: on a 2-core machine the copy competed with
/// the receiving thread and the server); pread when a block cannot be mapped.
class OrderedHasher {
 public:
  explicit OrderedHasher(const fs::path& part) : fd_(::open(part.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_.get() < 0) throw CacheError("cannot read back " + part.string() + ": " + std::strerror(errno));
    worker_ = std::thread([this] { run(); });
  }
  ~OrderedHasher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  OrderedHasher(const OrderedHasher&) = delete;
  OrderedHasher& operator=(const OrderedHasher&) = delete;

  /// The first `contiguous` bytes of the file are final.
  void advance(uint64_t contiguous) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (contiguous <= target_) return;
      target_ = contiguous;
    }
    cv_.notify_all();
  }

  /// Hashes up to `total` and returns the digest state. Throws CacheError when
  /// the file cannot be read back.
  cache::Sha256 finish(uint64_t total, const std::string& part) {
    advance(total);
    std::unique_lock<std::mutex> lock(mu_);
    final_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return hashed_ >= total || !error_.empty(); });
    if (!error_.empty()) throw CacheError("cannot read back " + part + " to hash it: " + error_);
    return std::move(hasher_);
  }

 private:
  void run() {
    std::vector<char> buf(kHashBlock);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || target_ - hashed_ >= kHashBlock || (final_ && target_ > hashed_); });
      if (stop_) return;
      const uint64_t from = hashed_;
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(kHashBlock, target_ - hashed_));
      lock.unlock();
      std::size_t got = 0;
      int err = 0;
      const bool mapped = hash_mapped(from, n);
      if (mapped) got = n;
      while (got < n) {
        const ssize_t r = ::pread(fd_.get(), buf.data() + got, n - got, static_cast<off_t>(from + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          err = r < 0 ? errno : EIO;
          break;
        }
        got += static_cast<std::size_t>(r);
      }
      if (got == n && !mapped) hasher_.update(buf.data(), n);
      lock.lock();
      if (got != n) {
        error_ = std::strerror(err);
        cv_.notify_all();
        return;
      }
      hashed_ += n;
      cv_.notify_all();
    }
  }

  /// Hashes [from, from + n) through a mapping; false (nothing hashed) when
  /// the file cannot be mapped.
  bool hash_mapped(uint64_t from, std::size_t n) {
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t start = from - from % page;
    const std::size_t length = static_cast<std::size_t>(from + n - start);
    void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_.get(), static_cast<off_t>(start));
    if (p == MAP_FAILED) return false;
    ::madvise(p, length, MADV_SEQUENTIAL);
    hasher_.update(static_cast<const char*>(p) + (from - start), n);
    ::munmap(p, length);
    return true;
  }

  Fd fd_;
  cache::Sha256 hasher_;  // touched by the worker only
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t target_ = 0;
  uint64_t hashed_ = 0;
  bool final_ = false;
  bool stop_ = false;
  std::string error_;
  std::thread worker_;
};

class RangedDownload;

/// One request for one range.
struct Conn {
  RangedDownload* owner = nullptr;
  std::size_t index = 0;  ///< into RangedDownload::ranges_
  bool probe = false;     ///< the first request, before the server's range support is known
  Easy easy;
  HeaderList headers;
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string range_text;
  uint64_t done_at_start = 0;
  uint64_t asked_from = 0;  ///< first byte asked for
  uint64_t asked_end = 0;   ///< one past the last byte asked for (the range may since have been shortened)

  long status = 0;
  std::string etag, last_modified, content_range, retry_after, content_type;
  std::string head;  ///< first bytes of the body (to recognise an HTML page)
  bool body_started = false;

  /// Why a callback stopped the transfer.
  /// Shortened: the range now ends before what was asked for (another
  /// connection took its tail) and has been completed.
  enum class Abort { None, Size, Write, Changed, Fallback, Shortened } abort = Abort::None;
  std::string abort_message;
};

class RangedDownload {
 public:
  explicit RangedDownload(Job& job) : job_(job), o_(*job.options), record_file_(job.meta) {}
  ~RangedDownload() {
    if (multi_ != nullptr) {
      for (auto& c : conns_) curl_multi_remove_handle(multi_, c->easy.get());
      curl_multi_cleanup(multi_);
    }
  }
  RangedDownload(const RangedDownload&) = delete;
  RangedDownload& operator=(const RangedDownload&) = delete;

  std::optional<FetchResult> run();

  static size_t on_header(char* data, size_t size, size_t n, void* ud);
  static size_t on_body(char* data, size_t size, size_t n, void* ud);

 private:
  bool begin(Conn& c);
  size_t write(Conn& c, const char* data, size_t len);
  void launch();
  bool steal();
  void start(std::size_t index, bool probe);
  void done(Conn& c, CURLcode result);
  void failed(Conn& c, const std::string& why, const std::optional<double>& retry_after);
  void preallocate(Conn& c);
  void save_record();
  void maybe_save_record();
  void report(bool final);
  uint64_t contiguous() const;
  uint64_t done_bytes() const;
  bool all_complete() const;
  std::string where() const { return job_.where(); }
  int connections() const { return std::clamp(o_.connections, 1, FetchOptions::kMaxConnections); }
  /// Connections allowed now: one until the probe's pace is known, then one
  /// or connections().
  int allowed() const { return pace_ == Pace::Parallel ? connections() : 1; }
  void decide_pace(Clock::time_point now);

  Job& job_;
  const FetchOptions& o_;
  uint64_t total_ = 0;
  std::vector<Range> ranges_;
  std::string etag_, last_modified_;
  bool probing_ = true;   // no answer has shown range support yet
  enum class Pace { Deciding, Single, Parallel } pace_ = Pace::Deciding;
  Clock::time_point probe_body_at_{};  // the probe's first body byte
  uint64_t probe_body_from_ = 0;       // range 0's done bytes then
  bool fallback_ = false; // the server does not serve ranges reliably
  std::string head_, content_type_;
  std::unique_ptr<Fd> fd_;
  std::unique_ptr<OrderedHasher> hasher_;
  RecordFile record_file_;
  bool record_due_ = false;
  uint64_t unrecorded_ = 0;
  Clock::time_point last_record_{};
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_report_{};
  uint64_t start_bytes_ = 0;
  int active_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
  CURLM* multi_ = nullptr;
};

size_t RangedDownload::on_header(char* data, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Conn*>(ud);
  const std::string line = trim(std::string(data, size * n));
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (redirects): forget the last one's headers
    c->status = 0;
    const auto sp = line.find(' ');
    if (sp != std::string::npos) c->status = std::atol(line.c_str() + sp + 1);
    c->etag.clear();
    c->last_modified.clear();
    c->content_range.clear();
    c->retry_after.clear();
    c->content_type.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string name = lower(trim(line.substr(0, colon)));
  const std::string value = trim(line.substr(colon + 1));
  if (name == "etag") c->etag = value;
  else if (name == "last-modified") c->last_modified = value;
  else if (name == "content-range") c->content_range = value;
  else if (name == "retry-after") c->retry_after = value;
  else if (name == "content-type") c->content_type = value;
  return size * n;
}

size_t RangedDownload::on_body(char* data, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Conn*>(ud);
  const size_t len = size * n;
  if (c->status < 200 || c->status > 299) return len;  // error pages and redirects are not the file
  if (!c->body_started) {
    c->head.assign(data, std::min<size_t>(len, 512));
    if (!c->owner->begin(*c)) return 0;
    c->body_started = true;
  }
  return c->owner->write(*c, data, len);
}

/// The first body byte of a 2xx answer: is it the range asked for, of the
/// same file version? false stops the transfer (Conn::abort says why).
bool RangedDownload::begin(Conn& c) {
  const std::string asked = std::to_string(c.asked_from) + "-" + std::to_string(c.asked_end - 1);
  if (c.status != 206) {
    if (c.probe) {
      c.abort = Conn::Abort::Fallback;
      c.abort_message = "the server answered a range request with HTTP " + std::to_string(c.status);
    } else {
      // If-Range did not match: the server sends the whole (new) file.
      c.abort = Conn::Abort::Changed;
      c.abort_message = "the request for bytes " + asked + " was answered with the whole file (HTTP " +
                        std::to_string(c.status) + "): the file changed on the server during the download";
    }
    return false;
  }
  uint64_t first = 0, last = 0;
  std::optional<uint64_t> total;
  const bool parsed = parse_content_range(c.content_range, &first, &last, &total);
  if (parsed && total && *total != total_) {
    if (c.probe && job_.expect->size) {
      c.abort = Conn::Abort::Size;
      c.abort_message = "the server announces " + std::to_string(*total) + " bytes, expected " +
                        std::to_string(total_) + " bytes" + html_hint(c.head, c.content_type);
    } else {
      c.abort = Conn::Abort::Changed;
      c.abort_message = "bytes " + asked + " came from a file of " + std::to_string(*total) +
                        " bytes, the download began with " + std::to_string(total_) +
                        ": the file changed on the server during the download";
    }
    return false;
  }
  if (!parsed || !total || first != c.asked_from || last + 1 != c.asked_end) {
    c.abort = Conn::Abort::Fallback;
    c.abort_message = "asked for bytes " + asked + " of " + std::to_string(total_) +
                      ", the server answered 206 with Content-Range \"" + c.content_range + "\"";
    return false;
  }
  if (c.probe && probing_) {
    etag_ = strong_etag(c.etag) ? c.etag : "";
    last_modified_ = c.last_modified;
    if (etag_.empty() && last_modified_.empty()) {
      c.abort = Conn::Abort::Fallback;
      c.abort_message = "the server sends no strong ETag or Last-Modified to keep the ranges of one file version";
      return false;
    }
    head_ = c.head;
    content_type_ = c.content_type;
    preallocate(c);
    if (c.abort != Conn::Abort::None) return false;
    probing_ = false;
    record_due_ = true;
    return true;
  }
  const bool etag_differs = !etag_.empty() && !c.etag.empty() && c.etag != etag_;
  const bool date_differs = !last_modified_.empty() && !c.last_modified.empty() && c.last_modified != last_modified_;
  if (etag_differs || date_differs) {
    c.abort = Conn::Abort::Changed;
    c.abort_message = "bytes " + asked + " came with " +
                      (etag_differs ? "ETag " + c.etag + ", the download began with " + etag_
                                    : "Last-Modified " + c.last_modified + ", the download began with " +
                                          last_modified_) +
                      ": the file changed on the server during the download";
    return false;
  }
  return true;
}

/// The file gets its full size before the ranges start, so a full disk (or
/// a file size limit) shows now rather than halfway.
void RangedDownload::preallocate(Conn& c) {
  if (::fallocate(fd_->get(), 0, 0, static_cast<off_t>(total_)) == 0) return;
  int err = errno;
  if (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) {
    if (::ftruncate(fd_->get(), static_cast<off_t>(total_)) == 0) return;
    err = errno;
  }
  c.abort = Conn::Abort::Write;
  c.abort_message = std::string(std::strerror(err)) + space_hint(err);
}

size_t RangedDownload::write(Conn& c, const char* data, size_t len) {
  Range& r = ranges_[c.index];
  const uint64_t at = r.begin + r.done;
  if (len > r.end - at && r.end < c.asked_end) {
    // Shortened by steal(): keep what belongs to this range, then stop.
    const size_t keep = static_cast<size_t>(r.end - at);
    if (keep > 0 && !pwrite_all(fd_->get(), data, keep, at)) {
      const int err = errno;
      c.abort = Conn::Abort::Write;
      c.abort_message = std::string(std::strerror(err)) + space_hint(err);
      return 0;
    }
    r.done += keep;
    job_.received += keep;
    unrecorded_ += keep;
    c.abort = Conn::Abort::Shortened;
    return keep;
  }
  if (len > r.end - at) {
    c.abort = Conn::Abort::Fallback;
    c.abort_message = "the server sent more than the bytes " + r.text() + " it announced";
    return 0;
  }
  if (!pwrite_all(fd_->get(), data, len, at)) {
    const int err = errno;
    c.abort = Conn::Abort::Write;
    c.abort_message = std::string(std::strerror(err)) + space_hint(err);
    return 0;
  }
  if (pace_ == Pace::Deciding && c.index == 0 && probe_body_at_ == Clock::time_point{}) {
    probe_body_at_ = Clock::now();
    probe_body_from_ = r.done;
  }
  r.done += len;
  job_.received += len;
  unrecorded_ += len;
  return len;
}

void RangedDownload::start(std::size_t index, bool probe) {
  auto c = std::make_unique<Conn>();
  c->owner = this;
  c->index = index;
  c->probe = probe;
  Range& r = ranges_[index];
  r.active = true;
  ++r.attempts;
  c->done_at_start = r.done;
  c->asked_from = r.begin + r.done;
  c->asked_end = r.end;
  CURL* h = c->easy.get();
  configure_easy(h, job_, c->errbuf);
  c->range_text = std::to_string(r.begin + r.done) + "-" + std::to_string(r.end - 1);
  curl_easy_setopt(h, CURLOPT_RANGE, c->range_text.c_str());
  if (!probe) c->headers.append("If-Range: " + (!etag_.empty() ? etag_ : last_modified_));
  for (const auto& extra : job_.headers) c->headers.append(extra);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &RangedDownload::on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &RangedDownload::on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c.get());
  curl_easy_setopt(h, CURLOPT_PRIVATE, c.get());
  const CURLMcode mc = curl_multi_add_handle(multi_, h);
  if (mc != CURLM_OK) throw FetchError(std::string("libcurl: curl_multi_add_handle: ") + curl_multi_strerror(mc));
  conns_.push_back(std::move(c));
  ++active_;
  job_.connections_used = std::max(job_.connections_used, active_);
}

/// After kPaceWindow of the probe's body (or when range 0 ended sooner): one
/// connection when it is fast, all of them otherwise.
void RangedDownload::decide_pace(Clock::time_point now) {
  if (pace_ != Pace::Deciding || probing_) return;
  const Range& r = ranges_[0];
  if (connections() == 1 || o_.fast_connection_bytes_per_second <= 0 ||
      probe_body_at_ == Clock::time_point{}) {
    if (connections() == 1 || o_.fast_connection_bytes_per_second <= 0 || !r.active) {
      pace_ = Pace::Parallel;  // nothing to decide, or nothing to measure
    }
    return;
  }
  const double seconds = std::chrono::duration<double>(now - probe_body_at_).count();
  if (r.active && now - probe_body_at_ < kPaceWindow) return;
  const double rate = static_cast<double>(r.done - probe_body_from_) / std::max(seconds, 1e-3);
  pace_ = rate >= o_.fast_connection_bytes_per_second ? Pace::Single : Pace::Parallel;
}

void RangedDownload::launch() {
  const auto now = Clock::now();
  if (probing_) {
    if (!ranges_[0].active && ranges_[0].not_before <= now) start(0, /*probe=*/true);
    return;
  }
  decide_pace(now);
  for (std::size_t i = 0; i < ranges_.size() && active_ < allowed(); ++i) {
    const Range& r = ranges_[i];
    if (!r.active && !r.complete() && r.not_before <= now) start(i, /*probe=*/false);
  }
  while (active_ < allowed() && steal()) start(ranges_.size() - 1, /*probe=*/false);
}

/// Splits the active range with the most bytes left; the new range (its
/// second half) is appended. false when no range is worth splitting.
bool RangedDownload::steal() {
  if (std::any_of(ranges_.begin(), ranges_.end(), [](const Range& r) { return !r.active && !r.complete(); })) {
    return false;  // ranges waiting for a retry come first
  }
  std::size_t best = ranges_.size();
  uint64_t most = 0;
  for (std::size_t i = 0; i < ranges_.size(); ++i) {
    const Range& r = ranges_[i];
    const uint64_t left = r.end - r.begin - r.done;
    if (r.active && left > most) {
      best = i;
      most = left;
    }
  }
  if (best == ranges_.size() || most < 2 * kMinStolenHalfRanges * std::max<uint64_t>(1, o_.min_range_bytes)) return false;
  Range tail;
  tail.begin = ranges_[best].begin + ranges_[best].done + most / 2;
  tail.end = ranges_[best].end;
  ranges_[best].end = tail.begin;
  ranges_.push_back(tail);
  record_due_ = true;
  return true;
}

/// A transient failure of one range: retried with backoff, unless it made no
/// progress max_attempts times in a row.
void RangedDownload::failed(Conn& c, const std::string& why, const std::optional<double>& retry_after) {
  Range& r = ranges_[c.index];
  const bool progress = o_.max_attempts > 1 && r.done > c.done_at_start;  // 1: no retry at all
  r.failures = progress ? 0 : r.failures + 1;
  if (r.failures >= std::max(1, o_.max_attempts) || r.attempts >= kMaxAttemptsWithProgress) {
    if (job_.private_part || probing_) {
      discard_partial(job_);
    } else {
      save_record();  // a later run resumes from here
    }
    throw FetchError("downloading bytes " + r.text() + " of " + where() + " failed: " + why + " (gave up after " +
                     std::to_string(r.attempts) + (r.attempts == 1 ? " attempt)" : " attempts)"));
  }
  const double delay = backoff_seconds(o_, progress ? 1 : r.failures, retry_after);
  r.not_before = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
}

void RangedDownload::done(Conn& c, CURLcode result) {
  Range& r = ranges_[c.index];
  r.active = false;
  --active_;
  switch (c.abort) {
    case Conn::Abort::Size:
      discard_partial(job_);
      throw HashMismatchError("size mismatch for " + where() + ": " + c.abort_message + "; the download was discarded");
    case Conn::Abort::Write:
      discard_partial(job_);
      throw CacheError("cannot write " + job_.part.string() + " while downloading " + job_.what() + " from " +
                       job_.shown + ": " + c.abort_message);
    case Conn::Abort::Changed:
      discard_partial(job_);
      job_.no_resume = true;
      if (!job_.expect->size) job_.size_hint.reset();  // learn the new file's size again
      throw TransientError(where() + ": " + c.abort_message + "; starting over", std::nullopt, /*immediate=*/true);
    case Conn::Abort::Fallback:
      fallback_ = true;
      return;
    case Conn::Abort::Shortened:
      r.failures = 0;
      record_due_ = true;
      return;
    case Conn::Abort::None:
      break;
  }
  CURL* h = c.easy.get();
  if (result != CURLE_OK) {
    if (!is_transient_error(result)) {
      discard_partial(job_);
      throw FetchError(curl_failure_message(h, result, job_, c.errbuf));
    }
    const std::string detail =
        std::string(curl_easy_strerror(result)) + (c.errbuf[0] ? std::string(": ") + c.errbuf : "");
    return failed(c, detail + " after " + std::to_string(r.done - c.done_at_start) + " bytes", std::nullopt);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    if (status == 416) {
      discard_partial(job_);
      job_.no_resume = true;
      throw TransientError("HTTP 416 (range not satisfiable) for bytes " + c.range_text + " of " + where() +
                               "; starting over",
                           std::nullopt, /*immediate=*/true);
    }
    const std::string msg = http_status_message(status, job_);
    if (is_transient_status(status)) return failed(c, msg, parse_retry_after(c.retry_after));
    discard_partial(job_);
    throw FetchError(msg);
  }
  if (!c.body_started) {  // an empty 2xx body: nothing of the range arrived
    return failed(c, "HTTP " + std::to_string(status) + " with an empty body", std::nullopt);
  }
  if (!r.complete()) {
    return failed(c, "the answer ended after " + std::to_string(r.done - c.done_at_start) + " of " +
                         std::to_string(r.end - r.begin - c.done_at_start) + " bytes",
                  std::nullopt);
  }
  r.failures = 0;
  record_due_ = true;
}

/// Ranges in file order (steal() appends out of order).
std::vector<Range> sorted(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  return ranges;
}

uint64_t RangedDownload::contiguous() const {
  uint64_t at = 0;
  for (const auto& r : sorted(ranges_)) {
    at = r.begin + r.done;
    if (!r.complete()) break;
  }
  return at;
}

uint64_t RangedDownload::done_bytes() const {
  uint64_t n = 0;
  for (const auto& r : ranges_) n += r.done;
  return n;
}

bool RangedDownload::all_complete() const {
  return std::all_of(ranges_.begin(), ranges_.end(), [](const Range& r) { return r.complete(); });
}

void RangedDownload::save_record() {
  if (job_.private_part || probing_) return;  // private partials are never resumed by a later run
  Record rec;
  rec.url_hash = identity_hash(job_);
  rec.etag = etag_;
  rec.last_modified = last_modified_;
  rec.boot_id = this_boot();
  rec.total = total_;
  rec.ranges = sorted(ranges_);
  record_file_.write(rec, job_);
  unrecorded_ = 0;
  last_record_ = Clock::now();
  record_due_ = false;
}

void RangedDownload::maybe_save_record() {
  if (record_due_ || unrecorded_ >= kRecordEveryBytes ||
      (unrecorded_ > 0 && Clock::now() - last_record_ >= kRecordEvery)) {
    save_record();
  }
}

void RangedDownload::report(bool final) {
  const auto& cb = o_.on_progress;
  if (!cb) return;
  const auto now = Clock::now();
  if (!final && now - last_report_ < std::chrono::milliseconds(100)) return;
  last_report_ = now;
  const double secs = std::chrono::duration<double>(now - started_).count();
  Progress p;
  p.bytes = done_bytes();
  p.total = total_;
  p.bytes_per_second = secs > 0 ? static_cast<double>(p.bytes - std::min(p.bytes, start_bytes_)) / secs : 0.0;
  p.url = job_.shown;
  try {
    cb(p);
  } catch (...) {
    discard_partial(job_);
    throw;
  }
}

std::optional<FetchResult> RangedDownload::run() {
  const bool first_attempt = !job_.started;
  job_.started = true;

  // What an earlier run left, when its record agrees with the file.
  std::optional<Record> kept;
  if (!job_.no_resume && !job_.private_part) {
    kept = parse_record(job_.meta);
    if (kept && !record_agrees(*kept, job_)) kept.reset();
  }
  if (kept) {
    total_ = kept->total;
    ranges_ = kept->ranges;
    etag_ = kept->etag;
    last_modified_ = kept->last_modified;
    probing_ = false;
    pace_ = Pace::Parallel;  // a resumed download keeps its plan
  } else {
    discard_partial(job_);
    if (!job_.known_size()) return std::nullopt;  // nothing to plan ranges from: one connection
    total_ = *job_.known_size();
    ranges_ = plan(total_, connections(), o_.min_range_bytes);
  }
  const int fd = ::open(job_.part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (kept ? 0 : O_TRUNC), 0666);
  if (fd < 0) {
    throw CacheError("cannot create " + job_.part.string() + " for " + job_.what() + ": " + std::strerror(errno));
  }
  fd_ = std::make_unique<Fd>(fd);
  const uint64_t reused = done_bytes();
  if (first_attempt) job_.reused = reused;
  start_bytes_ = reused;
  hasher_ = std::make_unique<OrderedHasher>(job_.part);

  if (!all_complete()) {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw FetchError("libcurl: curl_multi_init failed");
    // One connection per range (no HTTP/2 multiplexing): per-connection caps are what ranges get around.
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(connections()));
    bool was_probing = probing_;
    for (;;) {
      launch();
      int running = 0;
      const CURLMcode mc = curl_multi_perform(multi_, &running);
      if (mc != CURLM_OK) throw FetchError(std::string("libcurl: curl_multi_perform: ") + curl_multi_strerror(mc));
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Conn* c = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
        const CURLcode result = msg->data.result;
        curl_multi_remove_handle(multi_, msg->easy_handle);
        auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& p) { return p.get() == c; });
        std::unique_ptr<Conn> owned = std::move(*it);
        conns_.erase(it);
        done(*owned, result);
        if (fallback_) {
          discard_partial(job_);
          return std::nullopt;
        }
      }
      hasher_->advance(contiguous());
      maybe_save_record();
      if (active_ == 0 && all_complete()) break;
      // At once when the probe has shown range support (before the other ranges start), else every 100 ms.
      report(/*final=*/was_probing && !probing_);
      was_probing = probing_;
      // Until something happens on a connection, or the next retry is due.
      int wait_ms = 100;
      if (active_ == 0) {
        const auto now = Clock::now();
        for (const auto& r : ranges_) {
          if (r.complete() || r.active) continue;
          const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.not_before - now).count();
          wait_ms = static_cast<int>(std::clamp<long long>(ms, 0, wait_ms));
        }
      }
      if (wait_ms > 0) curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }
  report(true);
  cache::Sha256 digest = hasher_->finish(total_, job_.part.string());
  FetchResult r = finish(job_, *fd_, digest, total_, /*resumed=*/reused > 0, html_hint(head_, content_type_));
  job_.published_kept = first_attempt && job_.received == 0 && reused == total_;
  return r;
}

}  // namespace

bool wants_ranges(const Job& job) {
  const FetchOptions& o = *job.options;
  if (job.single_stream || o.connections < 2) return false;
  const auto size = job.known_size();
  const bool large = size && *size >= 2 * o.min_range_bytes;
  if (job.private_part || job.no_resume) return large;
  if (const auto rec = parse_record(job.meta)) return record_agrees(*rec, job) || large;
  // A single-connection partial file of an earlier run: resume it over one connection.
  std::error_code ec;
  if (read_meta(job.meta) && fs::file_size(job.part, ec) > 0 && !ec) return false;
  return large;
}

std::optional<FetchResult> attempt_ranged(Job& job) {
  RangedDownload d(job);
  return d.run();
}

std::optional<uint64_t> ranged_done_bytes(const fs::path& meta, bool* ranged) {
  *ranged = false;
  std::ifstream in(meta);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  *ranged = text.find("\"ranges\"") != std::string::npos;
  const auto rec = parse_record(meta);
  if (!rec) return std::nullopt;
  uint64_t n = 0;
  for (const auto& g : rec->ranges) n += g.done;
  return n;
}

}  // namespace modelzoo::fetch::detail
