#pragma once
// Shared pieces of the fetch tests: the per-binary nginx, a fixture with a
// fresh cache and fast retry settings, and digests.

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "cache/test_util.h"
#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/fetch/fetch.h"
#include "support/nginx_server.h"

namespace mz_fetch_test {

namespace fs = std::filesystem;

inline mz_test::NginxServer& srv() { return mz_test::NginxEnvironment::server(); }

inline std::string digest_of(const std::string& s) {
  modelzoo::cache::Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

inline modelzoo::cache::Expectation expect_of(const std::string& content) {
  modelzoo::cache::Expectation e;
  e.sha256 = digest_of(content);
  e.size = content.size();
  return e;
}

/// A fresh cache directory per test; files are served under /t/<test name>-<n>/.
class FetchTest : public ::testing::Test {
 protected:
  FetchTest() : cache_(modelzoo::cache::CacheOptions{tmp_ / "cache", {}}) {
    // Unique per fixture instance, so request counts stay per test even when
    // tests repeat or shuffle within one process (the server is shared).
    static std::atomic<int> instances{0};
    name_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
            std::to_string(instances++);
  }

  /// Options with short timeouts and backoff so failure tests stay fast.
  modelzoo::fetch::FetchOptions fast_options() const {
    modelzoo::fetch::FetchOptions o;
    o.max_attempts = 3;
    o.backoff_initial_seconds = 0.01;
    o.backoff_max_seconds = 0.05;
    o.connect_timeout_seconds = 5;
    o.low_speed_limit_bytes = 1;
    o.low_speed_time_seconds = 10;
    o.ca_file = srv().ca_file().string();
    return o;
  }

  /// Puts `content` on the server as /t/<test>/<file>; returns the URL path.
  std::string serve(const std::string& file, const std::string& content) const {
    const std::string rel = "t/" + name_ + "/" + file;
    srv().write_file(rel, content);
    return "/" + rel;
  }

  modelzoo::fetch::FetchRequest request(const std::string& url, const std::string& content,
                                        const std::string& label = "model:TEST") const {
    modelzoo::fetch::FetchRequest r;
    r.url = url;
    r.expect = expect_of(content);
    r.label = label;
    return r;
  }

  fs::path cache_dir() const { return tmp_ / "cache"; }

  mz_cache_test::TempDir tmp_;
  modelzoo::cache::Cache cache_;
  std::string name_;
};

}  // namespace mz_fetch_test
