#pragma once
// Shared pieces of the fetch tests: the per-binary nginx, a fixture with a
// fresh cache and fast retry settings, and digests.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "modelzoo/error.h"
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

/// Size of `p`, 0 when it does not exist.
inline uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

/// The message of the FetchError that `f` throws; fails the test when it
/// throws none.
template <typename F>
std::string fetch_error_of(F&& f) {
  try {
    f();
  } catch (const modelzoo::FetchError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected FetchError";
  return "";
}

/// Polls `done` every 5 ms for up to `seconds`; returns its last value.
inline bool wait_for(const std::function<bool()>& done, double seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// This test binary started again in the child role of environment.cpp, with
/// `env` (MZ_FETCH_CHILD_*) added to the environment; stdout and stderr go
/// to `output_file` when given. With `file_size_limit`, the child runs under
/// RLIMIT_FSIZE with SIGXFSZ ignored, so a write past the limit fails with
/// EFBIG as on a full disk. Returns the child's pid.
inline pid_t spawn_child(const std::map<std::string, std::string>& env, const std::string& output_file = "",
                         std::optional<uint64_t> file_size_limit = std::nullopt) {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  // gtest sets environments up only when some test is selected; the child
  // exits in its environment's SetUp, before any test runs.
  std::vector<char*> argv = {exe, nullptr};
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {  // only async-signal-safe calls until execve
    if (!output_file.empty()) {
      const int fd = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
    }
    if (file_size_limit) {
      ::signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across execve
      struct rlimit rl {};
      rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(*file_size_limit);
      if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(126);
    }
    ::execve(exe, argv.data(), envp.data());
    ::_exit(127);
  }
  return child;
}

/// SIGKILL, then reap. Returns the wait status.
inline int kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
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

  /// The MZ_FETCH_CHILD_* variables for a child fetching `url` into this cache.
  std::map<std::string, std::string> child_env(const std::string& url, const std::string& content) const {
    return {{"MZ_FETCH_CHILD_URL", url},
            {"MZ_FETCH_CHILD_CACHE", cache_dir().string()},
            {"MZ_FETCH_CHILD_SHA256", digest_of(content)},
            {"MZ_FETCH_CHILD_SIZE", std::to_string(content.size())},
            {"MZ_FETCH_CHILD_CA", srv().ca_file().string()}};
  }

  /// Every file of the cache directory that carries a final (non-side-file)
  /// name must hold exactly its expected content (`expected`: name -> bytes).
  void expect_only_verified_files(const std::map<std::string, std::string>& expected) const {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache_dir(), ec)) {
      const std::string name = e.path().filename().string();
      if (modelzoo::cache::is_auxiliary_file(name)) continue;
      auto it = expected.find(name);
      if (it == expected.end()) {
        ADD_FAILURE() << "unexpected file under a final name: " << e.path();
        continue;
      }
      std::ifstream in(e.path(), std::ios::binary);
      const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_TRUE(got == it->second) << e.path() << " holds " << got.size() << " bytes that are not the expected "
                                     << it->second.size();
    }
  }

  mz_cache_test::TempDir tmp_;
  modelzoo::cache::Cache cache_;
  std::string name_;
};

}  // namespace mz_fetch_test
