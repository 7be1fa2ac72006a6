// Hub sources: hf://ORG/NAME[@REVISION]/PATH through the Hub's resolve
// protocol into the Hub's cache layout. See fetch/hf.h.
#include "modelzoo/fetch/hf.h"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "internal.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/env.h"
#include "modelzoo/error.h"

namespace modelzoo::fetch {

namespace {

using namespace detail;

constexpr const char* kDefaultEndpoint = "https://huggingface.co";

std::string hex2(unsigned char c) {
  static const char* digits = "0123456789ABCDEF";
  return std::string{'%', digits[c >> 4], digits[c & 15]};
}

/// Percent-encoding of Python's urllib.parse.quote (`safe` characters kept).
std::string quote(const std::string& s, const std::string& safe) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || safe.find(static_cast<char>(c)) != std::string::npos) {
      out += static_cast<char>(c);
    } else {
      out += hex2(c);
    }
  }
  return out;
}

std::string unquote(const std::string& s) {
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

/// "scheme://host:port" of an absolute URL ("" when not absolute), lower-cased, default ports made explicit.
std::string origin_of(const std::string& url) {
  const auto p = url.find("://");
  if (p == std::string::npos) return "";
  const std::string scheme = lower(url.substr(0, p));
  const auto end = url.find_first_of("/?#", p + 3);
  std::string authority = lower(url.substr(p + 3, end == std::string::npos ? std::string::npos : end - p - 3));
  const auto at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  const bool has_port = authority.find(':', authority.rfind(']') == std::string::npos ? 0 : authority.rfind(']')) !=
                        std::string::npos;
  if (!has_port) authority += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + authority;
}

/// `location` (absolute, or relative to `base`) as an absolute URL.
std::string absolute_url(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  const auto p = base.find("://");
  const auto path_start = base.find('/', p + 3);
  const std::string root = path_start == std::string::npos ? base : base.substr(0, path_start);
  if (!location.empty() && location.front() == '/') return root + location;
  const std::string dir = base.substr(0, base.find_first_of("?#")).substr(0, base.rfind('/') + 1);
  return dir + location;
}

/// The headers of one HEAD answer.
struct HeadAnswer {
  long status = 0;
  std::string location, commit, linked_etag, etag, linked_size, content_length, error_code, error_message, retry_after;
};

size_t on_head_header(char* data, size_t size, size_t n, void* ud) {
  auto* a = static_cast<HeadAnswer*>(ud);
  const std::string line = trim(std::string(data, size * n));
  if (line.rfind("HTTP/", 0) == 0) {
    *a = HeadAnswer{};
    std::istringstream ss(line);
    std::string version;
    ss >> version >> a->status;
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string name = lower(trim(line.substr(0, colon)));
  const std::string value = trim(line.substr(colon + 1));
  if (name == "location") a->location = value;
  else if (name == "x-repo-commit") a->commit = value;
  else if (name == "x-linked-etag") a->linked_etag = value;
  else if (name == "etag") a->etag = value;
  else if (name == "x-linked-size") a->linked_size = value;
  else if (name == "content-length") a->content_length = value;
  else if (name == "x-error-code") a->error_code = value;
  else if (name == "x-error-message") a->error_message = value;
  else if (name == "retry-after") a->retry_after = value;
  return size * n;
}

/// Why resolving failed; decides whether the cache may answer instead.
enum class Failure {
  Unreachable,  ///< network, 5xx/429 after the retries, an answer that is not the Hub's: the cache may answer
  Denied,       ///< 401 / 403 (gated, private, bad token): the cache may answer
  Missing,      ///< the revision or the file does not exist: never answered from the cache
};

class ResolveError : public FetchError {
 public:
  ResolveError(const std::string& what, Failure f) : FetchError(what), failure(f) {}
  Failure failure;
};

/// What the Hub says about a file.
struct Resolved {
  std::string endpoint;
  std::string download_url;  ///< where the bytes are
  bool same_origin = true;   ///< download_url is on the endpoint's origin (the token may go there)
  std::string commit, etag;
  uint64_t size = 0;
};

std::string describe(const HubFile& f) {
  return f.repo + " (revision " + f.revision + ", file " + f.path + ")";
}

std::string token_hint(const FetchOptions& o) {
  return o.hf.token.empty() ? std::string(" no token was sent (set HF_TOKEN, or put one in the token file $HF_HOME/token)")
                            : " the token from " + o.hf.token_origin + " was sent";
}

[[noreturn]] void throw_http(const HubFile& f, const std::string& endpoint, const HeadAnswer& a, const FetchOptions& o) {
  const std::string at = " at " + endpoint;
  const std::string msg = a.error_message.empty() ? std::string() : " (the Hub says: " + a.error_message + ")";
  const std::string page = endpoint + "/" + f.repo;
  if (a.error_code == "GatedRepo") {
    throw ResolveError("HTTP " + std::to_string(a.status) + ": " + f.repo + " is a gated repository" + at +
                           ": access needs an account that accepted its conditions on " + page + ";" +
                           token_hint(o) + msg,
                       Failure::Denied);
  }
  if (a.error_code == "RevisionNotFound") {
    throw ResolveError("HTTP " + std::to_string(a.status) + ": " + f.repo + " has no revision \"" + f.revision +
                           "\"" + at + msg,
                       Failure::Missing);
  }
  if (a.error_code == "EntryNotFound" || (a.status == 404 && a.error_code.empty())) {
    throw ResolveError("HTTP " + std::to_string(a.status) + ": " + f.repo + " has no file \"" + f.path +
                           "\" at revision " + f.revision + at + msg,
                       Failure::Missing);
  }
  if (a.error_code == "RepoNotFound" || a.status == 401) {
    throw ResolveError("HTTP " + std::to_string(a.status) + ": repository " + f.repo + " not found" + at +
                           ", or it is private or gated and needs a token with access to it:" + token_hint(o) + msg,
                       a.status == 404 ? Failure::Missing : Failure::Denied);
  }
  if (a.status == 403) {
    throw ResolveError("HTTP 403: access to " + f.repo + " is forbidden" + at + ";" + token_hint(o) + msg,
                       Failure::Denied);
  }
  throw ResolveError("HTTP " + std::to_string(a.status) + " for " + describe(f) + at + msg, Failure::Unreachable);
}

/// One HEAD (no redirect followed). Throws TransientError for failures worth repeating.
HeadAnswer head_once(const std::string& url, const std::vector<std::string>& headers, Job& job) {
  HeadAnswer a;
  Easy easy;
  CURL* h = easy.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  HeaderList list;
  for (const auto& hd : headers) list.append(hd);
  job.url = url;
  job.shown = sanitize_url(url);
  configure_easy(h, job, errbuf);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (is_transient_error(rc)) {
      throw TransientError("resolving " + job.shown + " failed: " + curl_easy_strerror(rc) +
                           (errbuf[0] ? std::string(": ") + errbuf : ""));
    }
    throw ResolveError(curl_failure_message(h, rc, job, errbuf), Failure::Unreachable);
  }
  if (is_transient_status(a.status)) {
    throw TransientError("HTTP " + std::to_string(a.status) + " for " + job.shown, parse_retry_after(a.retry_after));
  }
  return a;
}

/// HEAD with bounded retries of transient failures.
HeadAnswer head(const std::string& url, const std::vector<std::string>& headers, Job& job) {
  const FetchOptions& o = *job.options;
  const int attempts = std::max(1, o.max_attempts);
  for (int attempt = 1;; ++attempt) {
    try {
      return head_once(url, headers, job);
    } catch (const TransientError& e) {
      if (attempt >= attempts) {
        throw ResolveError(std::string(e.what()) + " (gave up after " + std::to_string(attempt) +
                               (attempt == 1 ? " attempt)" : " attempts)"),
                           Failure::Unreachable);
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff_seconds(o, attempt, e.retry_after)));
    }
  }
}

std::vector<std::string> auth_headers(const FetchOptions& o) {
  std::vector<std::string> h;
  if (!o.hf.token.empty()) h.push_back("Authorization: Bearer " + o.hf.token);
  return h;
}

Resolved resolve(const HubFile& f, const std::string& endpoint, Job& job) {
  const FetchOptions& o = *job.options;
  std::vector<std::string> headers = auth_headers(o);
  headers.push_back("Accept-Encoding: identity");
  const std::string start = f.resolve_url(endpoint);
  std::string url = start;
  HeadAnswer a;
  for (int hop = 0;; ++hop) {
    a = head(url, headers, job);
    if (a.status < 300 || a.status > 399) break;
    if (a.location.empty()) {
      throw ResolveError("HTTP " + std::to_string(a.status) + " without a Location for " + sanitize_url(url),
                         Failure::Unreachable);
    }
    const std::string next = absolute_url(url, a.location);
    if (origin_of(next) != origin_of(url)) break;  // the CDN: this answer describes the file
    if (hop >= kMaxRedirects) {
      throw ResolveError("too many redirects resolving " + describe(f) + " at " + endpoint, Failure::Unreachable);
    }
    url = next;  // a renamed repository: same host, keep asking
  }
  if (a.status >= 400) throw_http(f, endpoint, a, o);
  Resolved r;
  r.endpoint = endpoint;
  const bool redirect = a.status >= 300 && a.status <= 399;
  r.download_url = redirect ? absolute_url(url, a.location) : url;
  r.same_origin = origin_of(r.download_url) == origin_of(start);
  const std::string what = " for " + describe(f) + " from " + sanitize_url(url);
  if (!cache::is_commit_hash(a.commit)) {
    throw ResolveError("no commit id (X-Repo-Commit) in the answer" + what +
                           ": this does not look like a Hugging Face Hub endpoint (check HF_ENDPOINT, proxies and "
                           "firewalls)",
                       Failure::Unreachable);
  }
  r.commit = a.commit;
  r.etag = cache::normalize_etag(!a.linked_etag.empty() ? a.linked_etag : a.etag);
  if (r.etag.empty()) {
    throw ResolveError("no ETag (X-Linked-Etag or ETag) in the answer" + what +
                           ": the file's identity is unknown, so it cannot be cached reproducibly",
                       Failure::Unreachable);
  }
  try {
    cache::check_etag(r.etag);
  } catch (const CacheError& e) {
    throw ResolveError(std::string(e.what()) + what, Failure::Unreachable);
  }
  const auto size = parse_u64(!a.linked_size.empty() ? a.linked_size : (redirect ? std::string() : a.content_length));
  if (!size) {
    throw ResolveError("no size (X-Linked-Size or Content-Length) in the answer" + what, Failure::Unreachable);
  }
  r.size = *size;
  return r;
}

bool is_sha256_etag(const std::string& etag) {
  return etag.size() == 64 && etag.find_first_not_of("0123456789abcdef") == std::string::npos;
}

HubFetchResult cached_result(const cache::HfLookup& l) {
  HubFetchResult r;
  r.path = l.pointer;
  r.blob = l.blob;
  r.commit = l.commit;
  r.etag = l.etag;
  r.from_cache = true;
  std::error_code ec;
  r.bytes = std::filesystem::file_size(l.blob, ec);
  if (is_sha256_etag(l.etag)) r.sha256 = l.etag;
  return r;
}

/// A cached entry usable as it is: its blob checks out and agrees with `expect`.
bool usable(const cache::HfCache& hf, const HubFile& f, const cache::HfLookup& l, const cache::Expectation& expect,
            std::optional<uint64_t> size) {
  if (l.state != cache::HfLookup::State::Present) return false;
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(l.blob, ec);
  if (ec || (size && bytes != *size) || (expect.size && bytes != *expect.size)) return false;
  if (hf.check_blob(f.repo, l.etag, l.blob) == cache::BlobCheck::Mismatch) return false;
  if (!expect.sha256.empty()) {
    const std::string digest = is_sha256_etag(l.etag) ? l.etag : cache::sha256_file(l.blob);
    if (!cache::digest_matches(expect, digest)) return false;
  }
  return true;
}

std::string offline_origin(const FetchOptions& o) {
  if (o.hf.offline) return "HF_HUB_OFFLINE";
  return o.offline_origin.empty() ? std::string("offline mode") : o.offline_origin;
}

[[noreturn]] void throw_not_cached(const HubFile& f, const cache::HfCache& hf, const cache::HfLookup& l,
                                   const std::string& why) {
  std::string where;
  if (l.state == cache::HfLookup::State::BrokenLink) {
    where = "the snapshot entry " + l.pointer.string() + " points at a blob that is gone";
  } else if (l.commit.empty() && !cache::is_commit_hash(f.revision)) {
    where = "no refs/" + f.revision + " in " + hf.repo_dir(f.repo).string() + " says which commit it is";
  } else {
    where = "no " + (l.pointer.empty() ? hf.repo_dir(f.repo).string() : l.pointer.string());
  }
  std::string roots;
  for (const auto& r : hf.readonly_roots()) roots += " " + r.string();
  throw CacheError(why + ": hf://" + f.repo + "@" + f.revision + "/" + f.path + " is not in the Hub cache (" + where +
                   (roots.empty() ? std::string() : "; read-only caches searched:" + roots) +
                   "). To fill it: run `cache_tool fetch " + f.uri() +
                   "` where the Hub is reachable, or copy the Hub cache directory (" + hf.root().string() + ")");
}

}  // namespace

// ---------------------------------------------------------------------------

HfOptions HfOptions::from_env() {
  HfOptions o;
  o.endpoints.clear();
  auto add = [&](const std::string& raw, const char* var) {
    std::string e = trim(raw);
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (e.empty()) return;
    const std::string scheme = lower(e.substr(0, e.find("://")));
    if (e.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
      throw FetchError(std::string(var) + ": expected an http:// or https:// endpoint, got \"" + raw + "\"");
    }
    o.endpoints.push_back(e);
  };
  if (auto m = env::get("MODELZOO_HF_MIRROR")) {
    for (const auto& piece : env::split(*m, ',')) add(piece, "MODELZOO_HF_MIRROR");
  }
  add(env::get("HF_ENDPOINT").value_or(kDefaultEndpoint), "HF_ENDPOINT");
  if (auto t = env::get("HF_TOKEN")) {
    o.token = trim(*t);
    o.token_origin = "HF_TOKEN";
  } else {
    std::filesystem::path file;
    if (auto p = env::get("HF_TOKEN_PATH")) {
      file = *p;
    } else if (auto home = env::get("HF_HOME")) {
      file = std::filesystem::path(*home) / "token";
    } else if (auto xdg = env::get("XDG_CACHE_HOME")) {
      file = std::filesystem::path(*xdg) / "huggingface" / "token";
    } else if (auto h = env::get("HOME")) {
      file = std::filesystem::path(*h) / ".cache" / "huggingface" / "token";
    }
    std::ifstream in(file);
    std::string token;
    if (!file.empty() && in && std::getline(in, token) && !trim(token).empty()) {
      o.token = trim(token);
      o.token_origin = file.string();
    }
  }
  o.offline = env::truthy(env::get("HF_HUB_OFFLINE"));
  return o;
}

bool is_hub_uri(const std::string& text) { return text.rfind("hf://", 0) == 0; }

HubFile HubFile::parse(const std::string& uri) {
  auto bad = [&](const std::string& why) {
    throw FetchError("invalid Hub source \"" + uri + "\": " + why + " (expected hf://ORG/NAME[@REVISION]/PATH)");
  };
  if (!is_hub_uri(uri)) bad("it does not start with hf://");
  const std::string rest = uri.substr(5);
  const auto s1 = rest.find('/');
  if (s1 == std::string::npos) bad("no repository name");
  const auto s2 = rest.find('/', s1 + 1);
  if (s2 == std::string::npos || s2 + 1 >= rest.size()) bad("no path of a file in the repository");
  HubFile f;
  std::string name = rest.substr(s1 + 1, s2 - s1 - 1);
  const auto at = name.find('@');
  if (at != std::string::npos) {
    f.revision = unquote(name.substr(at + 1));
    name = name.substr(0, at);
    if (f.revision.empty()) bad("an empty revision after '@'");
  }
  f.repo = rest.substr(0, s1) + "/" + name;
  f.path = rest.substr(s2 + 1);
  try {
    cache::check_repo_id(f.repo);
    cache::check_revision(f.revision);
    cache::check_repo_path(f.path);
  } catch (const CacheError& e) {
    bad(e.what());
  }
  return f;
}

std::string HubFile::uri() const {
  return "hf://" + repo + (revision == "main" ? std::string() : "@" + quote(revision, "")) + "/" + path;
}

std::string HubFile::resolve_url(const std::string& endpoint) const {
  return endpoint + "/" + repo + "/resolve/" + quote(revision, "") + "/" + quote(path, "/");
}

HubFetchResult fetch_hub_file(const HubFile& f, const cache::HfCache& hf, const FetchOptions& options,
                              const cache::Expectation& expect, const std::string& label) {
  const std::string what = label.empty() ? f.uri() : label;
  const bool offline = options.offline || options.hf.offline;

  // 1. A commit whose snapshot entry is cached, or offline mode: no request.
  const cache::HfLookup cached = hf.find(f.repo, f.revision, f.path);
  // A read-only shared cache is a curated copy (as for torch.hub files): a
  // file it holds for the revision serves as it is, asking nobody and
  // writing nothing there.
  if (offline || cache::is_commit_hash(f.revision) || cached.readonly) {
    if (usable(hf, f, cached, expect, std::nullopt)) {
      HubFetchResult r = cached_result(cached);
      r.resolved_offline = true;
      return r;
    }
    if (offline) {
      if (cached.state == cache::HfLookup::State::Present) {
        throw CacheError(offline_origin(options) + ": the cached " + cached.blob.string() + " of " + what +
                         " is damaged or does not match the expected file, and offline mode cannot download it again");
      }
      throw_not_cached(f, hf, cached, offline_origin(options));
    }
  }

  // 2. Ask the endpoints in order.
  std::vector<std::string> failures;
  Failure worst = Failure::Unreachable;
  for (const auto& endpoint : options.hf.endpoints) {
    Job job = make_job(f.resolve_url(endpoint), hf.repo_dir(f.repo), expect, options, what);
    Resolved res;
    try {
      res = resolve(f, endpoint, job);
    } catch (const ResolveError& e) {
      failures.push_back(e.what());
      if (e.failure == Failure::Missing) worst = Failure::Missing;
      else if (e.failure == Failure::Denied && worst != Failure::Missing) worst = Failure::Denied;
      continue;
    }
    if (is_sha256_etag(res.etag) && !expect.sha256.empty() && !cache::digest_matches(expect, res.etag)) {
      throw HashMismatchError("sha256 mismatch for " + what + ": " + endpoint + " serves " + describe(f) +
                              " at commit " + res.commit + " with SHA-256 " + res.etag + ", expected " +
                              expect.sha256 + "; nothing was downloaded");
    }
    if (expect.size && *expect.size != res.size) {
      throw HashMismatchError("size mismatch for " + what + ": " + endpoint + " announces " +
                              std::to_string(res.size) + " bytes for " + describe(f) + ", expected " +
                              std::to_string(*expect.size) + "; nothing was downloaded");
    }
    hf.write_ref(f.repo, f.revision, res.commit);

    // 3. The snapshot entry or the blob may be there already (another client's download).
    cache::HfLookup l = hf.find(f.repo, res.commit, f.path);
    if (l.etag == res.etag && usable(hf, f, l, expect, res.size)) return cached_result(l);
    const auto blob = hf.blob_path(f.repo, res.etag);
    const auto link_and_return = [&](HubFetchResult r) {
      hf.link(f.repo, res.commit, f.path, res.etag);
      r.path = hf.pointer_path(f.repo, res.commit, f.path);
      r.blob = blob;
      r.commit = res.commit;
      r.etag = res.etag;
      return r;
    };
    cache::HfLookup as_blob;
    as_blob.state = cache::HfLookup::State::Present;
    as_blob.blob = blob;
    as_blob.etag = res.etag;
    as_blob.commit = res.commit;
    std::error_code ec;
    if (fs::exists(blob, ec) && usable(hf, f, as_blob, expect, res.size)) return link_and_return(cached_result(as_blob));

    // 4. Download the blob under huggingface_hub's lock.
    const fs::path lock_target = hf.lock_target(f.repo, res.etag);
    fs::create_directories(lock_target.parent_path(), ec);
    fs::create_directories(blob.parent_path(), ec);
    const fs::path incomplete = blob.string() + ".incomplete";
    const auto started = Clock::now();
    cache::EntryLock lock(lock_target, [&] {
      if (!options.on_progress) return;
      Progress p;
      std::error_code e;
      p.bytes = fs::file_size(incomplete, e);
      p.total = res.size;
      p.url = sanitize_url(res.download_url);
      p.waiting = true;
      const double secs = std::chrono::duration<double>(Clock::now() - started).count();
      p.bytes_per_second = secs > 0 ? static_cast<double>(p.bytes) / secs : 0.0;
      options.on_progress(p);
    });
    if (fs::exists(blob, ec)) {
      if (usable(hf, f, as_blob, expect, res.size)) return link_and_return(cached_result(as_blob));
      fs::remove(blob, ec);  // damaged or of another size: heal it
      fs::remove(hf.blob_stamp_path(f.repo, res.etag), ec);
    }
    cache::Expectation want = expect;
    want.size = res.size;
    if (is_sha256_etag(res.etag)) {
      want.sha256 = res.etag;
      want.sha256_is_prefix = false;
    }
    Job dl = make_job(res.download_url, blob, want, options, what);
    if (!dl.private_part) {
      dl.part = incomplete;
      dl.meta = lock_target.string() + ".incomplete.meta";
    }
    dl.identity = "hf-blob:" + res.etag + ":" + std::to_string(res.size);
    dl.sync = false;
    // The token goes to the Hub's own host only, never to the CDN it redirects to.
    if (res.same_origin) dl.headers = auth_headers(options);
    try {
      HubFetchResult r;
      static_cast<FetchResult&>(r) = fetch_url(dl);
      if (is_sha256_etag(res.etag)) hf.stamp_blob(f.repo, res.etag, r.sha256, /*durable=*/false);
      for (const auto& msg : failures) r.warnings.push_back("skipped an endpoint for " + what + ": " + msg);
      return link_and_return(r);
    } catch (const CacheError&) {
      throw;
    } catch (const FetchError& e) {
      failures.push_back(e.what());
    }
  }

  // 5. No endpoint answered: a cached file of that revision serves, as huggingface_hub does.
  std::string joined;
  for (std::size_t i = 0; i < failures.size(); ++i) {
    joined += (failures.size() > 1 ? " [" + std::to_string(i + 1) + "] " : std::string()) + failures[i] + ";";
  }
  if (!joined.empty()) joined.pop_back();
  if (worst != Failure::Missing && usable(hf, f, cached, expect, std::nullopt)) {
    HubFetchResult r = cached_result(cached);
    r.warnings.push_back("the Hub could not be asked about " + what + " (" + joined + "); using the cached " +
                         cached.pointer.string() + " of commit " + cached.commit);
    return r;
  }
  throw FetchError("cannot fetch " + what + ": " + joined +
                   (worst == Failure::Missing ? std::string()
                                              : "; and the Hub cache " + hf.root().string() +
                                                    " holds no usable copy of it"));
}

}  // namespace modelzoo::fetch
