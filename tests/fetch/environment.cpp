// Global environments of test_fetch: the shared nginx (started on first use,
// stopped after the last test) and the child role of the multi-process tests.
//
// Tests that need another process (two processes sharing a cache, kill -9 of
// a download, a file size limit) re-execute this binary with
// MZ_FETCH_CHILD_URL etc. set (see spawn_child() in fetch_util.h); the child
// performs one fetch_to_cache in SetUp() below and exits with 0 (success) or
// 3 (failure, the message on stderr) before any test runs.
//   MZ_FETCH_CHILD_URL, MZ_FETCH_CHILD_CACHE   what to fetch, into which cache
//   MZ_FETCH_CHILD_SHA256, MZ_FETCH_CHILD_SIZE the expectation (size optional)
//   MZ_FETCH_CHILD_CA                          CA bundle for https
//   MZ_FETCH_CHILD_PRIVATE=1                   FetchOptions::private_partials
//   MZ_FETCH_CHILD_CONNECTIONS, MZ_FETCH_CHILD_MIN_RANGE
//                                              FetchOptions::connections (default 1) and
//                                              min_range_bytes
//   MZ_FETCH_CHILD_PAUSE_FILE                  when the last body byte has been written (the
//                                              final progress report, before verification and
//                                              rename), create this file and wait to be killed
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
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
    const char* size = std::getenv("MZ_FETCH_CHILD_SIZE");
    const char* ca = std::getenv("MZ_FETCH_CHILD_CA");
    const char* pause_file = std::getenv("MZ_FETCH_CHILD_PAUSE_FILE");
    try {
      modelzoo::fetch::FetchRequest req;
      req.url = url;
      req.expect.sha256 = sha ? sha : "";
      if (size != nullptr) req.expect.size = std::strtoull(size, nullptr, 10);
      req.label = "child";
      modelzoo::fetch::FetchOptions o;
      o.ca_file = ca ? ca : "";
      o.backoff_initial_seconds = 0.01;
      o.private_partials = std::getenv("MZ_FETCH_CHILD_PRIVATE") != nullptr;
      const char* connections = std::getenv("MZ_FETCH_CHILD_CONNECTIONS");
      o.connections = connections ? std::atoi(connections) : 1;
      if (const char* min_range = std::getenv("MZ_FETCH_CHILD_MIN_RANGE")) {
        o.min_range_bytes = std::strtoull(min_range, nullptr, 10);
      }
      if (pause_file != nullptr) {
        const std::string marker = pause_file;
        o.on_progress = [marker](const modelzoo::fetch::Progress& p) {
          if (p.waiting || !p.total || p.bytes != *p.total) return;
          { std::ofstream(marker) << p.bytes << "\n"; }
          for (;;) ::pause();  // until SIGKILL
        };
      }
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
