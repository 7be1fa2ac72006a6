#include "support/nginx_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/tls_ca.h"

namespace mz_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path make_temp_dir(const char* prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = (tmp && *tmp ? std::string(tmp) : std::string("/tmp")) + "/" + prefix + "XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("NginxServer: mkdtemp(" + pattern + ") failed: " + std::strerror(errno));
  }
  return fs::path(buf.data());
}

/// A port that was free a moment ago (bound to port 0, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string http_date(time_t t) {
  char buf[64];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool parse_uint(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// The backend: a minimal HTTP/1.0 server (one thread per connection) behind
// nginx's /flaky/ and /truncate/ locations. It counts requests per URI.
// ---------------------------------------------------------------------------
class NginxServer::Backend {
 public:
  Backend(fs::path docroot, int retry_after) : docroot_(std::move(docroot)), retry_after_(retry_after) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error(std::string("backend socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      const std::string why = std::strerror(errno);
      ::close(listen_fd_);
      throw std::runtime_error("backend bind/listen on 127.0.0.1: " + why);
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  ~Backend() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      workers.swap(workers_);
    }
    for (auto& t : workers) {
      if (t.joinable()) t.join();
    }
    ::close(listen_fd_);
  }

  int port() const { return port_; }

  void reset() {
    std::lock_guard<std::mutex> lock(mu_);
    counts_.clear();
  }

  int hits(const std::string& uri) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(uri);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, 50);
      if (r <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
      workers_.emplace_back([this, fd] {
        handle(fd);
        ::close(fd);
        std::lock_guard<std::mutex> done(mu_);
        --in_flight_;
      });
    }
  }

  int bump(const std::string& uri) {
    std::lock_guard<std::mutex> lock(mu_);
    return ++counts_[uri];
  }

  void respond_status(int fd, int code) {
    const std::string body = std::to_string(code) + " " + reason(code) + "\n";
    std::string head = "HTTP/1.0 " + std::to_string(code) + " " + reason(code) + "\r\n";
    if (code == 429 || code == 503) head += "Retry-After: " + std::to_string(retry_after_) + "\r\n";
    head += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n";
    send_all(fd, head.data(), head.size());
    send_all(fd, body.data(), body.size());
  }

  /// What serve() does after `limit` body bytes (when the body is longer).
  enum class Cut { Close, Reset, Stall };

  // Serves <docroot>/<rel>, honouring Range and If-Range; sends at most
  // `limit` body bytes, then closes the connection, resets it (RST) or holds
  // it open without sending anything (`cut`). `short_by` makes the
  // Content-Length header announce that many bytes fewer than the body sent.
  // Returns the status sent (0 when nothing was).
  int serve(int fd, const std::string& method, const std::string& rel,
            const std::map<std::string, std::string>& headers, uint64_t limit, Cut cut = Cut::Close,
            uint64_t short_by = 0, uint64_t* sent = nullptr, uint64_t range_shift = 0) {
    for (const auto& part : split_path(rel)) {
      if (part == "..") {
        respond_status(fd, 403);
        return 403;
      }
    }
    const fs::path file = docroot_ / rel;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      respond_status(fd, 404);
      return 404;
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%lx-%lx\"", static_cast<unsigned long>(st.st_mtime),
                  static_cast<unsigned long>(st.st_size));
    const std::string last_modified = http_date(st.st_mtime);

    uint64_t begin = 0, end = size;  // [begin, end)
    bool partial = false;
    auto range_it = headers.find("range");
    bool use_range = range_it != headers.end();
    auto if_range_it = headers.find("if-range");
    if (use_range && if_range_it != headers.end() && if_range_it->second != etag &&
        if_range_it->second != last_modified) {
      use_range = false;
    }
    if (use_range) {
      const std::string& r = range_it->second;
      if (r.rfind("bytes=", 0) == 0 && r.find(',') == std::string::npos) {
        const std::string spec = r.substr(6);
        const auto dash = spec.find('-');
        uint64_t a = 0, b = 0;
        if (dash != std::string::npos) {
          const std::string sa = spec.substr(0, dash), sb = spec.substr(dash + 1);
          if (sa.empty() && parse_uint(sb, &b)) {  // suffix range
            begin = b >= size ? 0 : size - b;
            partial = true;
          } else if (parse_uint(sa, &a)) {
            if (a >= size) {
              std::string head = "HTTP/1.0 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                                 std::to_string(size) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
              send_all(fd, head.data(), head.size());
              return 416;
            }
            begin = a;
            if (!sb.empty() && parse_uint(sb, &b) && b + 1 < size) end = b + 1;
            partial = true;
          }
        }
      }
    }
    std::string head = "HTTP/1.0 " + std::string(partial ? "206 Partial Content" : "200 OK") + "\r\n";
    head += "Content-Type: application/octet-stream\r\n";
    const uint64_t length = end - begin;
    head += "Content-Length: " + std::to_string(length > short_by ? length - short_by : 0) + "\r\n";
    if (partial) {
      head += "Content-Range: bytes " + std::to_string(begin + range_shift) + "-" +
              std::to_string(end - 1 + range_shift) + "/" + std::to_string(size) + "\r\n";
    }
    head += "ETag: " + std::string(etag) + "\r\nLast-Modified: " + last_modified +
            "\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n";
    const int status = partial ? 206 : 200;
    if (!send_all(fd, head.data(), head.size()) || method == "HEAD") return status;

    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(begin));
    uint64_t left = std::min(end - begin, limit);
    std::vector<char> buf(64 * 1024);
    while (left > 0 && in) {
      in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size())));
      const auto got = static_cast<std::size_t>(in.gcount());
      if (got == 0 || !send_all(fd, buf.data(), got)) return status;
      left -= got;
      if (sent) *sent += got;
    }
    if (limit >= end - begin) return status;
    if (cut == Cut::Reset) {
      // SO_LINGER with a zero timeout: close() sends RST instead of FIN.
      linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else if (cut == Cut::Stall) {
      // Send nothing more until the client gives up (or 30 s, or shutdown).
      for (int waited = 0; waited < 30000 && !stop_; waited += 50) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
          char c;
          if (::recv(fd, &c, 1, MSG_DONTWAIT) <= 0) break;  // closed by the client
        }
      }
    }
    return status;
  }

  void handle(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    std::istringstream lines(req.substr(0, req.find("\r\n\r\n")));
    std::string line;
    std::getline(lines, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream rl(line);
    std::string method, uri, version;
    rl >> method >> uri >> version;
    std::map<std::string, std::string> headers;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(value.begin());
      headers[name] = value;
    }
    const std::string path = uri.substr(0, uri.find('?'));
    const auto parts = split_path(path);
    auto rest_after = [&](std::size_t k) {
      std::string rel;
      for (std::size_t i = k; i < parts.size(); ++i) rel += (i > k ? "/" : "") + parts[i];
      return rel;
    };
    uint64_t a = 0, b = 0;
    uint64_t sent = 0;
    if (parts.size() >= 4 && parts[0] == "flaky" && parse_uint(parts[1], &a) && parse_uint(parts[2], &b)) {
      const int seen = bump(uri);
      if (static_cast<uint64_t>(seen) <= b) {
        respond_status(fd, static_cast<int>(a));
        return log(path, headers, static_cast<int>(a), 0);
      }
      const int status = serve(fd, method, rest_after(3), headers, UINT64_MAX, Cut::Close, 0, &sent);
      return log(path, headers, status, sent);
    }
    if (parts.size() >= 4 && parts[0] == "truncate" && parse_uint(parts[1], &a) && parse_uint(parts[2], &b)) {
      const int seen = bump(uri);
      const int status = serve(fd, method, rest_after(3), headers,
                               static_cast<uint64_t>(seen) <= a ? b : UINT64_MAX, Cut::Close, 0, &sent);
      return log(path, headers, status, sent);
    }
    if (parts.size() >= 4 && (parts[0] == "reset" || parts[0] == "stall") && parse_uint(parts[1], &a) &&
        parse_uint(parts[2], &b)) {
      const int seen = bump(uri);
      const Cut cut = parts[0] == "reset" ? Cut::Reset : Cut::Stall;
      const int status = serve(fd, method, rest_after(3), headers,
                               static_cast<uint64_t>(seen) <= a ? b : UINT64_MAX, cut, 0, &sent);
      return log(path, headers, status, sent);
    }
    if (parts.size() >= 4 && parts[0] == "ranged" && parse_uint(parts[2], &a)) {
      // Faults for range requests that start after byte 0 (not a probe).
      const auto range = headers.find("range");
      const bool later_range = range != headers.end() && range->second.rfind("bytes=0-", 0) != 0;
      const bool fault = later_range && static_cast<uint64_t>(bump(uri)) <= a;
      const std::string& kind = parts[1];
      if (fault && kind == "500") {
        respond_status(fd, 500);
        return log(path, headers, 500, 0);
      }
      uint64_t limit = UINT64_MAX;
      uint64_t shift = 0;
      if (fault && kind == "cut") {
        // Half of the requested range, then the connection closes.
        const std::string spec = range->second.substr(6);
        uint64_t from = 0, to = 0;
        if (parse_uint(spec.substr(0, spec.find('-')), &from) && parse_uint(spec.substr(spec.find('-') + 1), &to)) {
          limit = (to + 1 - from) / 2;
        }
      }
      if (fault && kind == "badrange") shift = 1;
      const int status = serve(fd, method, rest_after(3), headers, limit, Cut::Close, 0, &sent, shift);
      return log(path, headers, status, sent);
    }
    if (parts.size() >= 3 && parts[0] == "shortlen" && parse_uint(parts[1], &a)) {
      const int status = serve(fd, method, rest_after(2), headers, UINT64_MAX, Cut::Close, a, &sent);
      return log(path, headers, status, sent);
    }
    respond_status(fd, 404);
    log(path, headers, 404, 0);
  }

  void log(const std::string& path, const std::map<std::string, std::string>& headers, int status,
           uint64_t sent) {
    AccessLogEntry e;
    e.status = status;
    e.path = path;
    auto get = [&](const char* name) {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    };
    e.range = get("range");
    e.if_range = get("if-range");
    e.body_bytes = sent;
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(std::move(e));
  }

 public:
  std::vector<AccessLogEntry> requests(const std::string& path) {
    // A client may finish reading (Content-Length bytes) before the backend
    // has logged the request: wait, briefly, for the requests in flight.
    std::unique_lock<std::mutex> lock(mu_);
    for (int i = 0; i < 400 && in_flight_ > 0; ++i) {
      lock.unlock();
      std::this_thread::sleep_for(5ms);
      lock.lock();
    }
    std::vector<AccessLogEntry> out;
    for (const auto& e : log_) {
      if (e.path == path) out.push_back(e);
    }
    return out;
  }

 private:

  fs::path docroot_;
  int retry_after_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::map<std::string, int> counts_;
  std::vector<AccessLogEntry> log_;
  int in_flight_ = 0;
};

// ---------------------------------------------------------------------------

namespace {
/// Clients that honour proxy variables must reach the loopback server directly.
void bypass_proxies_for_loopback() {
  for (const char* var : {"NO_PROXY", "no_proxy"}) {
    const char* old = std::getenv(var);
    std::string value = old ? old : "";
    if (value.find("127.0.0.1") != std::string::npos) continue;
    value += std::string(value.empty() ? "" : ",") + "127.0.0.1,localhost";
    ::setenv(var, value.c_str(), 1);
  }
}
}  // namespace

NginxServer::NginxServer(NginxOptions options) : options_(std::move(options)) {
  bypass_proxies_for_loopback();
  dir_ = make_temp_dir("mz-nginx-");
  try {
    docroot_ = options_.docroot.empty() ? dir_ / "docroot" : options_.docroot;
    fs::create_directories(docroot_);
    for (const char* sub : {"tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "scratch"}) {
      fs::create_directories(dir_ / sub);
    }
    const TlsFiles tls = make_test_ca(dir_ / "tls");
    ca_file_ = tls.ca_cert;
    cert_ = tls.server_cert;
    key_ = tls.server_key;
    backend_ = std::make_unique<Backend>(docroot_, options_.retry_after_seconds);

    std::string why;
    bool started = false;
    for (int attempt = 0; attempt < 8 && !started; ++attempt) {
      http_port_ = free_port();
      do {
        https_port_ = free_port();
      } while (https_port_ == http_port_);
      extra_ports_.clear();
      while (static_cast<int>(extra_ports_.size()) < options_.extra_ports) {
        const int p = free_port();
        if (p != http_port_ && p != https_port_ &&
            std::find(extra_ports_.begin(), extra_ports_.end(), p) == extra_ports_.end()) {
          extra_ports_.push_back(p);
        }
      }
      write_config(backend_->port());
      started = start_once(&why);
      if (!started && why.find("in use") == std::string::npos) break;  // not a port collision
    }
    if (!started) throw std::runtime_error("NginxServer: nginx did not start:\n" + why);
  } catch (...) {
    stop();
    backend_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

NginxServer::~NginxServer() {
  stop();
  backend_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void NginxServer::write_config(int backend_port) {
  ++generation_;
  const std::string d = dir_.string();
  std::ostringstream c;
  if (::geteuid() == 0) {
    // Workers keep the master's identity, so they can read a 0700 temp dir.
    const passwd* pw = ::getpwuid(::geteuid());
    const group* gr = ::getgrgid(::getegid());
    c << "user " << (pw ? pw->pw_name : "root") << " " << (gr ? gr->gr_name : "root") << ";\n";
  }
  c << "daemon off;\nmaster_process on;\nworker_processes 1;\n"
    << "pid " << d << "/nginx.pid;\n"
    << "lock_file " << d << "/nginx.lock;\n"
    << "error_log " << d << "/error.log warn;\n"
    << "events { worker_connections 512; }\n"
    << "http {\n"
    << "  default_type application/octet-stream;\n"
    << "  log_format mz '$status\\t$request_method\\t$uri\\t$request_uri\\t$http_range\\t"
       "$http_if_range\\t$body_bytes_sent\\t$server_port\\t$http_authorization';\n"
    << "  access_log " << d << "/access.log mz;\n"
    << "  client_body_temp_path " << d << "/tmp/body;\n"
    << "  proxy_temp_path " << d << "/tmp/proxy;\n"
    << "  fastcgi_temp_path " << d << "/tmp/fastcgi;\n"
    << "  uwsgi_temp_path " << d << "/tmp/uwsgi;\n"
    << "  scgi_temp_path " << d << "/tmp/scgi;\n"
    << "  keepalive_timeout 5s;\n"
    << "  server_tokens off;\n"
    << "  server {\n"
    << "    listen 127.0.0.1:" << http_port_ << ";\n"
    << "    listen 127.0.0.1:" << https_port_ << " ssl;\n"
    << "    server_name 127.0.0.1 localhost;\n"
    << "    ssl_certificate " << cert_.string() << ";\n"
    << "    ssl_certificate_key " << key_.string() << ";\n"
    << "    root " << docroot_.string() << ";\n"
    << "    location / { }\n"
    // Which configuration is loaded (reload() waits for the new number).
    << "    location = /__mz_generation { return 200 '" << generation_ << "'; }\n"
    << "    location /slow/ { alias " << docroot_.string() << "/; limit_rate " << options_.slow_rate
    << "; }\n"
    // /rate/<bytes per second, nginx syntax>/<p>: a per-connection cap chosen by the URL.
    << "    location ~ ^/rate/(?<mzrate>[0-9]+[km]?)/(?<mzpath>.*)$ { alias " << docroot_.string()
    << "/$mzpath; limit_rate $mzrate; }\n"
    // /norange/<p>: a server that ignores Range (always 200 with the whole file).
    << "    location /norange/ { alias " << docroot_.string() << "/; max_ranges 0; }\n";
  for (int code : {400, 401, 403, 404, 410, 429, 500, 502, 503, 504}) {
    c << "    location /status/" << code << "/ { ";
    if (code == 429 || code == 503) {
      c << "add_header Retry-After " << options_.retry_after_seconds << " always; ";
    }
    c << "return " << code << "; }\n";
  }
  c << "    location /redirect/ { rewrite ^/redirect/(.*)$ /$1 redirect; }\n";
  // A redirect to itself (a loop), and a 200 answer that is an HTML page.
  c << "    location /loop/ { return 302 $uri; }\n";
  c << "    location /html200/ { default_type text/html; return 200 '<!DOCTYPE html>\\n<html><head><title>Sign in"
       "</title></head><body><p>Please sign in to continue.</p></body></html>\\n'; }\n";
  for (const char* loc : {"/flaky/", "/truncate/", "/stall/", "/shortlen/", "/ranged/"}) {
    c << "    location " << loc << " { proxy_pass http://127.0.0.1:" << backend_port
      << "; proxy_buffering off; proxy_read_timeout 10s; }\n";
  }
  c << "  }\n";
  if (options_.extra_config) c << options_.extra_config(*this);
  c << "}\n";
  std::ofstream out(dir_ / "nginx.conf");
  out << c.str();
}

bool NginxServer::start_once(std::string* why) {
  const fs::path pid_file = dir_ / "nginx.pid";
  const fs::path error_log = dir_ / "error.log";
  std::error_code ec;
  fs::remove(pid_file, ec);
  { std::ofstream truncate(error_log, std::ios::trunc); }

  const std::string prefix = dir_.string() + "/";
  const std::string conf = (dir_ / "nginx.conf").string();
  const std::string elog = error_log.string();
  const std::string out_log = (dir_ / "nginx.out").string();
  std::vector<std::string> args = {kNginx, "-p", prefix, "-c", conf, "-e", elog};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // nginx goes away (fast shutdown) if the test process dies unexpectedly.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    const int fd = ::open(out_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::execv(kNginx, argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;
      *why = "nginx exited (status " + std::to_string(status) + "); error log:\n" + read_all(error_log) +
             read_all(out_log);
      return false;
    }
    // The pid file is written after the listening sockets are bound, so
    // connecting then reaches this nginx, not whoever else had the port.
    const std::string pid_text = read_all(pid_file);
    bool extra_ready = true;
    for (int p : extra_ports_) extra_ready = extra_ready && can_connect(p);
    if (!pid_text.empty() && std::atol(pid_text.c_str()) == pid && can_connect(http_port_) &&
        can_connect(https_port_) && extra_ready) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  *why = "nginx did not become ready within 15 s; error log:\n" + read_all(error_log);
  stop();
  return false;
}

void NginxServer::stop() {
  if (pid_ <= 0) return;
  const pid_t pid = static_cast<pid_t>(pid_);
  pid_ = -1;
  ::kill(pid, SIGQUIT);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      // Workers leave with the master on QUIT; make sure none lingers.
      if (::kill(-pid, 0) == 0) ::kill(-pid, SIGKILL);
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

namespace {
/// The body of GET `path` on 127.0.0.1:`port` ("" on any failure).
std::string get_body(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send_all(fd, req.data(), req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = answer.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : answer.substr(body + 4);
}
}  // namespace

/// How many processes have `parent` as their parent (nginx's workers).
int worker_count(long parent) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") ++n;
  }
  return n;
}

void NginxServer::reload() {
  write_config(backend_->port());
  const std::string want = std::to_string(generation_);
  { std::ofstream truncate(dir_ / "error.log", std::ios::trunc); }
  if (pid_ <= 0 || ::kill(static_cast<pid_t>(pid_), SIGHUP) != 0) {
    throw std::runtime_error("NginxServer::reload: nginx is not running");
  }
  // Done when the new configuration answers and the old worker has left
  // (until then it may still accept connections with the old configuration).
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (get_body(http_port_, "/__mz_generation") == want && worker_count(pid_) == 1) return;
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("NginxServer::reload: nginx did not load the new configuration within 15 s:\n" +
                           read_all(dir_ / "error.log"));
}

std::string NginxServer::http_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
std::string NginxServer::https_url() const { return "https://127.0.0.1:" + std::to_string(https_port_); }
std::string NginxServer::backend_url() const { return "http://127.0.0.1:" + std::to_string(backend_->port()); }
int NginxServer::backend_hits(const std::string& uri) const { return backend_->hits(uri); }
std::vector<AccessLogEntry> NginxServer::backend_requests(const std::string& path) const {
  return backend_->requests(path);
}
std::string NginxServer::https_localhost_url() const {
  return "https://localhost:" + std::to_string(https_port_);
}
fs::path NginxServer::ca_file() const { return ca_file_; }

fs::path NginxServer::scratch_dir(const std::string& name) const {
  const fs::path p = dir_ / "scratch" / name;
  fs::create_directories(p);
  return p;
}

fs::path NginxServer::write_file(const std::string& relative, const std::string& bytes) const {
  const fs::path p = docroot_ / relative;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("NginxServer::write_file: cannot write " + p.string());
  return p;
}

std::vector<AccessLogEntry> NginxServer::access_log() const {
  const fs::path log = dir_ / "access.log";
  // nginx logs a request right after sending its last byte; wait until the
  // log has been quiet for a moment so a client that just finished is counted.
  std::error_code ec;
  auto size = fs::file_size(log, ec);
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(25ms);
    const auto now = fs::file_size(log, ec);
    if (now == size) break;
    size = now;
  }
  std::vector<AccessLogEntry> out;
  std::istringstream in(read_all(log));
  std::string line;
  auto field = [](const std::string& v) { return v == "-" ? std::string() : v; };
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (;;) {
      const auto tab = line.find('\t', start);
      f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (f.size() != 7 && f.size() != 9) continue;
    AccessLogEntry e;
    e.status = std::atoi(f[0].c_str());
    e.method = f[1];
    e.path = f[2];
    e.request_uri = f[3];
    e.range = field(f[4]);
    e.if_range = field(f[5]);
    e.body_bytes = std::strtoull(f[6].c_str(), nullptr, 10);
    if (f.size() == 9) {
      e.port = std::atoi(f[7].c_str());
      e.authorization = field(f[8]);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<AccessLogEntry> NginxServer::requests(const std::string& path) const {
  std::vector<AccessLogEntry> out;
  for (auto& e : access_log()) {
    if (e.path == path) out.push_back(std::move(e));
  }
  return out;
}

std::size_t NginxServer::request_count(const std::string& path) const { return requests(path).size(); }

void NginxServer::reset_counters() { backend_->reset(); }

// ---------------------------------------------------------------------------

namespace {
std::unique_ptr<NginxServer>& shared_server() {
  static std::unique_ptr<NginxServer> server;
  return server;
}
std::mutex& shared_server_mutex() {
  static std::mutex mu;
  return mu;
}
}  // namespace

void NginxEnvironment::TearDown() {
  std::lock_guard<std::mutex> lock(shared_server_mutex());
  shared_server().reset();
}

NginxServer& NginxEnvironment::server() {
  std::lock_guard<std::mutex> lock(shared_server_mutex());
  auto& s = shared_server();
  if (!s) s = std::make_unique<NginxServer>();
  return *s;
}

}  // namespace mz_test
