#pragma once
/// \file
/// A throw-away certificate authority for HTTPS tests on loopback. Everything
/// is generated with the `openssl` command-line tool into a directory the test
/// owns; nothing is installed system-wide. No torch, curl or OpenSSL headers.

#include <filesystem>
#include <string>
#include <vector>

namespace mz_test {

/// The files make_test_ca() writes (all PEM).
struct TlsFiles {
  std::filesystem::path ca_cert;      ///< the CA certificate: pass it as a client's CA file
  std::filesystem::path ca_key;       ///< the CA's private key
  std::filesystem::path server_cert;  ///< server certificate signed by the CA
  std::filesystem::path server_key;   ///< the server certificate's private key
};

/// Creates a CA and a server certificate signed by it in `dir` (created when
/// missing), with the server's CN set to hosts[0] and a subjectAltName entry
/// for every host ("127.0.0.1" becomes an IP entry, "localhost" a DNS entry).
/// Uses P-256 keys, so it takes a few tens of milliseconds. Throws
/// std::runtime_error carrying openssl's output when a step fails.
TlsFiles make_test_ca(const std::filesystem::path& dir,
                      const std::vector<std::string>& hosts = {"127.0.0.1", "localhost"});

/// Runs `command` with /bin/sh, stdout and stderr appended to `log`; returns
/// the exit status (-1 when the shell could not run). For test helpers only.
int run_shell(const std::string& command, const std::filesystem::path& log);

/// Quotes `s` for /bin/sh (single quotes, embedded quotes escaped).
std::string shell_quote(const std::string& s);

}  // namespace mz_test
