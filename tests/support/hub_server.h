#pragma once
/// \file
/// A loopback Hugging Face Hub for tests: the project's nginx with a
/// generated configuration of three server blocks.
///
/// | server | what it answers |
/// |---|---|
/// | NginxServer's own | nothing Hub-related (its usual test locations) |
/// | the Hub (`endpoint()`) | `/ORG/NAME/resolve/REV/PATH` for every branch, tag and commit of every repo: an LFS file answers `302` to the CDN with `X-Repo-Commit`, `X-Linked-Etag: "<sha256>"`, `X-Linked-Size` and the pointer's own `ETag`; a file kept in git answers `200` itself with `ETag: "<git blob id>"` and `X-Repo-Commit`. Unknown files: `404` + `X-Error-Code: EntryNotFound`; unknown revisions: `404` + `RevisionNotFound`; unknown repos: `401` + `RepoNotFound`. A gated repo answers `401` + `X-Error-Code: GatedRepo` unless `Authorization: Bearer <token>` is sent. `POST /api/models/ORG/NAME/paths-info/REV` answers the revision's files as the Hub's API does (what `@huggingface/hub` asks first). |
/// | the CDN (`cdn()`) | `/blobs/<sha256>?X-Amz-Signature=…`: the bytes, with nginx's Range, ETag and Last-Modified |
///
/// Repositories change with commit() / set_branch() and become visible after
/// apply() (the configuration is rewritten and nginx reloaded), so a test can
/// move a branch between two runs. Requests are told apart by port in
/// nginx().access_log(); hub_requests() and cdn_requests() filter them.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/nginx_server.h"

namespace mz_test {

/// One file of a commit.
struct HubTestFile {
  std::string path;     ///< path in the repository
  std::string content;  ///< bytes
  bool lfs = true;      ///< served from the CDN (ETag = SHA-256) or by the Hub itself (ETag = git blob id)
};

/// The loopback Hub (see the file comment). Starts nginx in its constructor.
class HubServer {
 public:
  HubServer();
  ~HubServer();
  HubServer(const HubServer&) = delete;
  HubServer& operator=(const HubServer&) = delete;

  /// Records a commit of `repo` holding `files` and points `branch` at it;
  /// returns the commit id (40 hex digits). Visible after apply().
  std::string commit(const std::string& repo, const std::vector<HubTestFile>& files,
                     const std::string& branch = "main");
  /// Points a branch or tag name at an existing commit. Visible after apply().
  void set_branch(const std::string& repo, const std::string& name, const std::string& commit);
  /// Makes `repo` gated: 401 without `Authorization: Bearer <token>`. Visible after apply().
  void set_gated(const std::string& repo, const std::string& token);
  /// Adds nginx `location` blocks of the test's own to the Hub's server block
  /// (answers with unusual headers). Visible after apply().
  void add_locations(const std::string& text) { raw_ += text; }
  /// Limits the CDN's sending rate per connection (nginx `limit_rate`, e.g.
  /// "2m" for 2 MiB/s; "" for none), so a test can stop a download midway.
  /// Visible after apply().
  void set_cdn_rate(const std::string& rate) { cdn_rate_ = rate; }
  /// Writes the configuration and reloads nginx.
  void apply();

  /// "http://127.0.0.1:<port>" of the Hub.
  std::string endpoint() const;
  /// "http://127.0.0.1:<port>" of the CDN.
  std::string cdn() const;
  /// The underlying nginx (access log, directories).
  NginxServer& nginx() { return *nginx_; }

  /// Logged requests that reached the Hub / the CDN (optionally only those whose path starts with `prefix`).
  std::vector<AccessLogEntry> hub_requests(const std::string& prefix = "") const;
  std::vector<AccessLogEntry> cdn_requests(const std::string& prefix = "") const;

  /// SHA-256 (hex) of bytes, and the git blob id of bytes (SHA-1 of "blob <n>\0" + bytes).
  static std::string sha256_hex(const std::string& bytes);
  static std::string git_blob_id(const std::string& bytes);

 private:
  struct Repo {
    std::map<std::string, std::vector<HubTestFile>> commits;  // commit -> files
    std::map<std::string, std::string> branches;              // name -> commit
    std::string gate_token;                                   // empty: public
  };
  std::string config(const NginxServer& n) const;
  std::map<std::string, Repo> repos_;
  int commits_made_ = 0;
  std::string raw_;
  std::string cdn_rate_;
  std::unique_ptr<NginxServer> nginx_;
};

/// A fixture whose tests share one HubServer, started before the suite's
/// first test and stopped after its last (`hub_`).
class HubSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { hub_ = new HubServer(); }
  static void TearDownTestSuite() {
    delete hub_;
    hub_ = nullptr;
  }
  static HubServer* hub_;
};

}  // namespace mz_test
