#include "support/hub_server.h"

#include <openssl/evp.h>

#include <sstream>
#include <stdexcept>

namespace mz_test {

namespace fs = std::filesystem;

namespace {

std::string digest_hex(const EVP_MD* md, const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr) != 1) throw std::runtime_error("EVP_Digest failed");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

/// Percent-encoding of a revision in a URL path ('/' too), as clients send it.
std::string quote_revision(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

HubServer* HubSuite::hub_ = nullptr;

std::string HubServer::sha256_hex(const std::string& bytes) { return digest_hex(EVP_sha256(), bytes); }

std::string HubServer::git_blob_id(const std::string& bytes) {
  return digest_hex(EVP_sha1(), "blob " + std::to_string(bytes.size()) + std::string(1, '\0') + bytes);
}

HubServer::HubServer() {
  NginxOptions o;
  o.extra_ports = 2;  // 0: the Hub, 1: the CDN
  o.extra_config = [this](const NginxServer& n) { return config(n); };
  nginx_ = std::make_unique<NginxServer>(o);
}

HubServer::~HubServer() = default;

std::string HubServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(nginx_->extra_port(0)); }
std::string HubServer::cdn() const { return "http://127.0.0.1:" + std::to_string(nginx_->extra_port(1)); }

std::string HubServer::commit(const std::string& repo, const std::vector<HubTestFile>& files,
                              const std::string& branch) {
  const std::string id = sha256_hex(repo + "#" + std::to_string(++commits_made_)).substr(0, 40);
  Repo& r = repos_[repo];
  r.commits[id] = files;
  r.branches[branch] = id;
  for (const auto& f : files) {
    if (f.lfs) {
      nginx_->write_file("cdn/blobs/" + sha256_hex(f.content), f.content);
    } else {
      nginx_->write_file("git/" + id + "/" + f.path, f.content);
    }
  }
  return id;
}

void HubServer::set_branch(const std::string& repo, const std::string& name, const std::string& commit) {
  repos_.at(repo).branches[name] = commit;
}

void HubServer::set_gated(const std::string& repo, const std::string& token) { repos_.at(repo).gate_token = token; }

void HubServer::apply() { nginx_->reload(); }

std::string HubServer::config(const NginxServer& n) const {
  const std::string root = n.docroot().string();
  const std::string cdn_url = "http://127.0.0.1:" + std::to_string(n.extra_port(1));
  std::ostringstream c;
  c << "  server {\n"
    << "    listen 127.0.0.1:" << n.extra_port(0) << ";\n"
    << "    default_type application/octet-stream;\n"
    // Unknown repositories: what the Hub answers an anonymous request.
    << "    location / { add_header X-Error-Code RepoNotFound always; "
       "add_header X-Error-Message \"Repository not found\" always; return 401; }\n"
    << raw_;
  for (const auto& [repo, r] : repos_) {
    c << "    location ^~ /" << repo << "/resolve/ { add_header X-Error-Code RevisionNotFound always; "
      << "add_header X-Error-Message \"Invalid rev id\" always; return 404; }\n";
    std::map<std::string, std::string> revisions = r.branches;  // name -> commit, commits name themselves
    for (const auto& [id, files] : r.commits) revisions[id] = id;
    for (const auto& [rev, id] : revisions) {
      const std::string base = "/" + repo + "/resolve/" + quote_revision(rev) + "/";
      const std::string gate =
          r.gate_token.empty()
              ? std::string()
              : "if ($http_authorization != \"Bearer " + r.gate_token +
                    "\") { add_header X-Error-Code GatedRepo always; add_header X-Error-Message "
                    "\"Access to model " + repo + " is restricted\" always; return 401; } ";
      c << "    location ^~ " << base << " { " << gate << "add_header X-Error-Code EntryNotFound always; "
        << "add_header X-Repo-Commit " << id << " always; return 404; }\n";
      std::ostringstream info;  // the paths-info API answer for this revision
      info << "[";
      bool first = true;
      for (const auto& f : r.commits.at(id)) {
        c << "    location = " << base << f.path << " { " << gate << "add_header X-Repo-Commit " << id << " always; ";
        const std::string oid = git_blob_id(f.lfs ? "version https://git-lfs.github.com/spec/v1\noid sha256:" +
                                                         sha256_hex(f.content) + "\nsize " +
                                                         std::to_string(f.content.size()) + "\n"
                                                   : f.content);
        if (f.lfs) {
          const std::string sha = sha256_hex(f.content);
          c << "add_header X-Linked-Etag '\"" << sha << "\"' always; add_header X-Linked-Size " << f.content.size()
            << " always; add_header ETag '\"" << oid << "\"' always; return 302 " << cdn() << "/blobs/" << sha
            << "?X-Amz-Signature=" << commits_made_ << "; }\n";
        } else {
          c << "etag off; add_header ETag '\"" << oid << "\"'; alias " << root << "/git/" << id << "/" << f.path
            << "; }\n";
        }
        info << (first ? "" : ",") << "{\"type\":\"file\",\"path\":\"" << f.path << "\",\"oid\":\"" << oid
             << "\",\"size\":" << f.content.size();
        if (f.lfs) {
          info << ",\"lfs\":{\"oid\":\"" << sha256_hex(f.content) << "\",\"size\":" << f.content.size()
               << ",\"pointerSize\":134}";
        }
        info << ",\"lastCommit\":{\"id\":\"" << id << "\",\"title\":\"upload\",\"date\":\"2026-01-01T00:00:00.000Z\"}"
             << ",\"securityFileStatus\":{\"status\":\"safe\"}}";
        first = false;
      }
      info << "]";
      c << "    location = /api/models/" << repo << "/paths-info/" << quote_revision(rev) << " { " << gate
        << "default_type application/json; return 200 '" << info.str() << "'; }\n";
    }
  }
  c << "  }\n"
    << "  server {\n"
    << "    listen 127.0.0.1:" << n.extra_port(1) << ";\n"
    << "    location /blobs/ { root " << root << "/cdn; "
    << (cdn_rate_.empty() ? std::string() : "limit_rate " + cdn_rate_ + "; ") << "}\n"
    << "  }\n";
  return c.str();
}

std::vector<AccessLogEntry> HubServer::hub_requests(const std::string& prefix) const {
  std::vector<AccessLogEntry> out;
  for (auto& e : nginx_->access_log()) {
    if (e.port == nginx_->extra_port(0) && e.path.rfind(prefix, 0) == 0) out.push_back(std::move(e));
  }
  return out;
}

std::vector<AccessLogEntry> HubServer::cdn_requests(const std::string& prefix) const {
  std::vector<AccessLogEntry> out;
  for (auto& e : nginx_->access_log()) {
    if (e.port == nginx_->extra_port(1) && e.path.rfind(prefix, 0) == 0) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace mz_test
