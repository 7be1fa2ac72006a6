// URL helpers: sanitising for messages and logs, and the file name torch.hub
// would derive (basename of the path, no decoding).
#include <algorithm>
#include <cctype>
#include <string>

#include "modelzoo/fetch/fetch.h"

namespace modelzoo::fetch {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// Query parameter names whose values are credentials in practice (signed
/// URLs of S3 / GCS / Azure, OAuth tokens, API keys).
bool secret_param(const std::string& name) {
  const std::string n = lower(name);
  static const char* const kMarkers[] = {"token", "key",  "sig",     "secret", "pass",    "pwd",
                                         "auth",  "cred", "session", "x-amz-", "x-goog-", "code"};
  for (const char* m : kMarkers) {
    if (n.find(m) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string sanitize_url(const std::string& url) {
  const std::string fragment_free = url.substr(0, url.find('#'));
  const auto q = fragment_free.find('?');
  std::string base = fragment_free.substr(0, q);
  std::string query = q == std::string::npos ? std::string() : fragment_free.substr(q + 1);

  // Drop user:password@ from the authority.
  const auto scheme_end = base.find("://");
  if (scheme_end != std::string::npos) {
    const auto auth_begin = scheme_end + 3;
    auto auth_end = base.find('/', auth_begin);
    if (auth_end == std::string::npos) auth_end = base.size();
    const auto at = base.rfind('@', auth_end);
    if (at != std::string::npos && at >= auth_begin) base.erase(auth_begin, at + 1 - auth_begin);
  }
  if (q == std::string::npos) return base;

  std::string out_query;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string param = query.substr(start, amp - start);
    if (!param.empty()) {
      const auto eq = param.find('=');
      const std::string name = param.substr(0, eq);
      if (!out_query.empty()) out_query += '&';
      if (eq != std::string::npos && secret_param(name)) {
        out_query += name + "=REDACTED";
      } else {
        out_query += param;
      }
    }
    start = amp + 1;
  }
  return out_query.empty() ? base : base + "?" + out_query;
}

std::string url_basename(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto scheme_end = path.find("://");
  if (scheme_end != std::string::npos) {
    const auto slash = path.find('/', scheme_end + 3);
    path = slash == std::string::npos ? std::string() : path.substr(slash);
  }
  const auto last = path.find_last_of('/');
  return last == std::string::npos ? path : path.substr(last + 1);
}

}  // namespace modelzoo::fetch
