#include "support/tls_ca.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mz_test {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

int run_shell(const std::string& command, const fs::path& log) {
  const std::string full = "(" + command + ") >>" + shell_quote(log.string()) + " 2>&1";
  const int rc = std::system(full.c_str());
  if (rc == -1) return -1;
  if (WIFEXITED(rc)) return WEXITSTATUS(rc);
  return -1;
}

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_ip_literal(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;  // IPv6
  for (char c : host) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return !host.empty();
}

}  // namespace

TlsFiles make_test_ca(const fs::path& dir, const std::vector<std::string>& hosts) {
  if (hosts.empty()) throw std::runtime_error("make_test_ca: expected at least one host name");
  fs::create_directories(dir);
  TlsFiles files;
  files.ca_cert = dir / "ca.pem";
  files.ca_key = dir / "ca.key";
  files.server_cert = dir / "server.pem";
  files.server_key = dir / "server.key";
  const fs::path csr = dir / "server.csr";
  const fs::path ext = dir / "server.ext";
  const fs::path ca_ext = dir / "ca.ext";
  const fs::path log = dir / "openssl.log";

  {
    std::ofstream out(ca_ext);
    out << "[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n"
           "[dn]\nCN=modelzoo test CA\n"
           "[v3_ca]\nbasicConstraints=critical,CA:TRUE\n"
           "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
  }
  {
    std::ofstream out(ext);
    out << "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
           "authorityKeyIdentifier=keyid,issuer\nsubjectAltName=";
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      if (i) out << ",";
      out << (is_ip_literal(hosts[i]) ? "IP:" : "DNS:") << hosts[i];
    }
    out << "\n";
  }

  const std::string openssl = "/usr/bin/openssl";
  const std::string q_ca_cert = shell_quote(files.ca_cert.string());
  const std::string q_ca_key = shell_quote(files.ca_key.string());
  const std::string q_cert = shell_quote(files.server_cert.string());
  const std::string q_key = shell_quote(files.server_key.string());
  const std::string q_csr = shell_quote(csr.string());
  const std::vector<std::string> steps = {
      openssl + " req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                " -days 3 -config " + shell_quote(ca_ext.string()) + " -keyout " + q_ca_key +
                " -out " + q_ca_cert,
      openssl + " req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                " -subj " + shell_quote("/CN=" + hosts[0]) + " -keyout " + q_key + " -out " + q_csr,
      openssl + " x509 -req -days 3 -in " + q_csr + " -CA " + q_ca_cert + " -CAkey " + q_ca_key +
                " -CAcreateserial -extfile " + shell_quote(ext.string()) + " -out " + q_cert,
  };
  for (const auto& step : steps) {
    if (run_shell(step, log) != 0) {
      throw std::runtime_error("make_test_ca: openssl failed: " + step + "\n" + read_all(log));
    }
  }
  return files;
}

}  // namespace mz_test
