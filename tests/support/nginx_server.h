#pragma once
/// \file
/// nginx on loopback for end-to-end download tests (HTTP and HTTPS with a
/// generated CA), plus a tiny in-process HTTP backend for the failures nginx
/// cannot produce by itself (fail the first N requests, cut a body short).
///
/// Typical use in a gtest file:
/// \code
///   static auto* const kEnv =
///       ::testing::AddGlobalTestEnvironment(new mz_test::NginxEnvironment);
///   TEST(Fetch, Works) {
///     auto& srv = mz_test::NginxEnvironment::server();   // started once per binary
///     srv.write_file("w/a.bin", "bytes");
///     download(srv.http_url() + "/w/a.bin", ...);         // or srv.https_url() + ca_file()
///     EXPECT_EQ(srv.request_count("/w/a.bin"), 1u);
///   }
/// \endcode
///
/// Everything lives in a fresh temporary directory (config, pid file, logs,
/// nginx temp paths, certificates, the default document root), so it runs as
/// root or not without touching /var or /etc. The directory is removed when the
/// server is destroyed. Constructing a server adds 127.0.0.1 and localhost to
/// NO_PROXY / no_proxy, so clients that honour proxy variables reach it directly.
///
/// URL layout (every path below the base URLs):
/// | path | behaviour |
/// |---|---|
/// | `/<p>` | static file `<docroot>/<p>`; nginx's own Range, If-Range, ETag, Last-Modified |
/// | `/status/<code>/<anything>` | always answers `<code>`, one of 400 401 403 404 410 429 500 502 503 504; 429 and 503 carry `Retry-After: <retry_after_seconds>` |
/// | `/redirect/<p>` | 302 to `/<p>` on the same server |
/// | `/slow/<p>` | `<docroot>/<p>` sent at `slow_rate` bytes per second (nginx limit_rate) |
/// | `/flaky/<code>/<n>/<p>` | the first `<n>` requests for this exact URI answer `<code>` (429/503 with Retry-After), later ones serve `<docroot>/<p>` (Range and If-Range supported) |
/// | `/truncate/<n>/<k>/<p>` | the first `<n>` requests for this exact URI send the full headers of `<docroot>/<p>` (or of the requested range) but only `<k>` body bytes, then close the connection; later ones serve it completely |
/// | `/stall/<n>/<k>/<p>` | like `/truncate/`, but after `<k>` body bytes the connection stays open and silent until the client gives up (at most 30 s) |
/// | `/rate/<r>/<p>` | `<docroot>/<p>` with a per-connection cap of `<r>` bytes per second (nginx limit_rate syntax: `512k`, `16m`) |
/// | `/norange/<p>` | `<docroot>/<p>`, but Range is ignored (always 200 with the whole file: nginx max_ranges 0) |
/// | `/ranged/<kind>/<n>/<p>` | `<docroot>/<p>` with Range support; the first `<n>` requests for this exact URI whose Range starts after byte 0 get `<kind>`: `500` (HTTP 500), `cut` (half the range, then the connection closes), `badrange` (the right bytes under a Content-Range shifted by one) |
/// | `/shortlen/<k>/<p>` | `<docroot>/<p>` with a Content-Length `<k>` bytes smaller than the body that follows |
/// | `/loop/<anything>` | 302 to itself: a redirect loop |
/// | `/html200/<anything>` | 200 with a small HTML sign-in page (text/html) |
///
/// `/flaky/`, `/truncate/`, `/stall/`, `/shortlen/` and `/ranged/` are proxied by nginx to
/// the backend, so they are reachable over HTTP and HTTPS and appear in the
/// same access log. The backend is also reachable directly at backend_url(),
/// which additionally serves `/reset/<n>/<k>/<p>`: like `/truncate/` but the
/// connection is reset (RST) after `<k>` body bytes (through nginx a reset
/// upstream would reach the client as an ordinary early close). Requests that
/// reach the backend are listed by backend_requests().

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mz_test {

/// One request as nginx logged it.
struct AccessLogEntry {
  int status = 0;              ///< response status nginx sent
  std::string method;          ///< "GET", "HEAD", ...
  std::string path;            ///< decoded path without the query ($uri)
  std::string request_uri;     ///< path and query as the client sent them
  std::string range;           ///< the Range request header, "" when absent
  std::string if_range;        ///< the If-Range request header, "" when absent
  uint64_t body_bytes = 0;     ///< body bytes sent
  int port = 0;                ///< the port the request arrived on (tells the server blocks apart)
  std::string authorization;   ///< the Authorization request header, "" when absent
};

class NginxServer;

/// Settings of an NginxServer.
struct NginxOptions {
  /// Served at "/". Empty: a fresh directory `<server dir>/docroot`.
  std::filesystem::path docroot;
  /// Retry-After value sent with 429 and 503 answers.
  int retry_after_seconds = 1;
  /// nginx limit_rate for /slow/ (bytes per second; nginx syntax, e.g. "32k").
  std::string slow_rate = "32k";
  /// How many more free loopback ports to reserve for `extra_config` (NginxServer::extra_port).
  int extra_ports = 0;
  /// Text added inside `http { }` (further `server` blocks listening on the
  /// extra ports), produced anew for the first start and every reload().
  std::function<std::string(const NginxServer&)> extra_config;
};

/// A running nginx (master + one worker) on 127.0.0.1, on free ports.
/// Construction blocks until both listeners accept connections (throws
/// std::runtime_error with nginx's error log otherwise); the destructor stops
/// nginx (SIGQUIT, wait, then SIGKILL to its process group) and removes the
/// temporary directory. Not copyable or movable. nginx is started with
/// PR_SET_PDEATHSIG, so it also goes away if the test process dies; create the
/// server from the main thread (the signal follows the thread that started it).
class NginxServer {
 public:
  /// Generates the certificates, writes the config and starts nginx.
  explicit NginxServer(NginxOptions options = {});
  /// Stops nginx and removes dir().
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  /// "http://127.0.0.1:<port>" (no trailing slash).
  std::string http_url() const;
  /// "https://127.0.0.1:<port>" (no trailing slash); needs ca_file().
  std::string https_url() const;
  /// "https://localhost:<port>" (the certificate also names localhost).
  std::string https_localhost_url() const;
  /// The CA certificate that signed the server's certificate (PEM).
  std::filesystem::path ca_file() const;
  /// The document root served at "/".
  const std::filesystem::path& docroot() const { return docroot_; }
  /// The server's private temporary directory (config, logs, certificates).
  const std::filesystem::path& dir() const { return dir_; }
  /// A scratch directory inside dir() for the test's own files (created).
  std::filesystem::path scratch_dir(const std::string& name) const;

  /// Writes `bytes` to `<docroot>/<relative>` (parents created); returns the path.
  std::filesystem::path write_file(const std::string& relative, const std::string& bytes) const;

  /// Every request logged so far, in order. Waits briefly until the log stops
  /// growing, since nginx writes a line just after the response is sent.
  std::vector<AccessLogEntry> access_log() const;
  /// The logged requests whose decoded path ($uri) equals `path` ("/w/a.bin").
  std::vector<AccessLogEntry> requests(const std::string& path) const;
  /// Number of logged requests whose decoded path equals `path`.
  std::size_t request_count(const std::string& path) const;

  /// "http://127.0.0.1:<port>" of the fault-injecting backend itself (no nginx in between).
  std::string backend_url() const;
  /// The requests the backend answered (directly or through nginx) whose path
  /// equals `path` ("/reset/1/100/w/a.bin"); method and request_uri are not
  /// recorded. Waits up to 2 s for requests still being answered.
  std::vector<AccessLogEntry> backend_requests(const std::string& path) const;

  /// How many requests for this exact URI ("/stall/1/0/w/a.bin") reached the
  /// backend so far, counted as soon as a request arrives (the logs list a
  /// request only once it has been answered). Forgotten by reset_counters().
  int backend_hits(const std::string& uri) const;

  /// Forgets how many requests each /flaky/, /truncate/, /stall/ and /reset/ URI has seen.
  void reset_counters();

  /// Writes the configuration again (calling NginxOptions::extra_config) and
  /// has nginx load it (SIGHUP); returns once new connections get the new
  /// configuration. Throws std::runtime_error when nginx refuses it.
  void reload();
  /// The i-th extra port (NginxOptions::extra_ports).
  int extra_port(int i) const { return extra_ports_.at(static_cast<std::size_t>(i)); }

  int http_port() const { return http_port_; }    ///< plain HTTP port
  int https_port() const { return https_port_; }  ///< HTTPS port
  long pid() const { return pid_; }                ///< nginx master process id

 private:
  class Backend;
  void write_config(int backend_port);
  bool start_once(std::string* why);
  void stop();

  NginxOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path docroot_;
  std::filesystem::path ca_file_;
  std::filesystem::path cert_;
  std::filesystem::path key_;
  int http_port_ = 0;
  int https_port_ = 0;
  std::vector<int> extra_ports_;
  int generation_ = 0;  ///< configurations written so far
  long pid_ = -1;
  std::unique_ptr<Backend> backend_;
};

/// A gtest Environment owning one NginxServer per test binary: register it
/// with ::testing::AddGlobalTestEnvironment(new NginxEnvironment); server()
/// starts nginx on first use and TearDown() stops it after the last test.
class NginxEnvironment : public ::testing::Environment {
 public:
  /// Stops the shared server (if it was started).
  void TearDown() override;
  /// The shared server, started with default options on first call.
  static NginxServer& server();
};

}  // namespace mz_test
