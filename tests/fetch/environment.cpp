// Global environments of test_fetch: the shared nginx (started on first use,
// stopped after the last test) and the child role of the two-process test.
//
// TwoProcesses.OneDownloadBetweenThem re-executes this binary with
// MZ_FETCH_CHILD_URL etc. set; the child performs one fetch_to_cache in
// SetUp() below and exits with 0 (success) or 3 (failure) before any test runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "modelzoo/fetch/fetch.h"
#include "support/nginx_server.h"

namespace {

class ChildRole : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* url = std::getenv("MZ_FETCH_CHILD_URL");
    if (url == nullptr) return;
    const char* cache_dir = std::getenv("MZ_FETCH_CHILD_CACHE");
    const char* sha = std::getenv("MZ_FETCH_CHILD_SHA256");
    const char* ca = std::getenv("MZ_FETCH_CHILD_CA");
    try {
      modelzoo::fetch::FetchRequest req;
      req.url = url;
      req.expect.sha256 = sha ? sha : "";
      req.label = "child";
      modelzoo::fetch::FetchOptions o;
      o.ca_file = ca ? ca : "";
      const modelzoo::cache::Cache cache(modelzoo::cache::CacheOptions{cache_dir ? cache_dir : "", {}});
      const auto r = modelzoo::fetch::fetch_to_cache(req, cache, o);
      std::fprintf(stdout, "child: %s %s\n", r.downloaded ? "downloaded" : "hit", r.sha256.c_str());
      std::fflush(stdout);
      std::_Exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child failed: %s\n", e.what());
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
};

auto* const kChild = ::testing::AddGlobalTestEnvironment(new ChildRole);
auto* const kNginx = ::testing::AddGlobalTestEnvironment(new mz_test::NginxEnvironment);

}  // namespace
