// Many threads and several processes asking for the same file: one download.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "fetch/fetch_util.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;

TEST_F(FetchTest, EightThreadsMakeOneDownload) {
  // Throttled, so the threads really overlap with the download in progress.
  const std::string content = pseudo_random_bytes(48000, 31);
  const std::string path = "/slow" + serve("threads.pth", content);
  const auto req = request(srv().http_url() + path, content);
  std::atomic<int> downloaded{0}, ok{0};
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      try {
        const auto r = fetch::fetch_to_cache(req, cache_, fast_options());
        if (r.downloaded) ++downloaded;
        if (read_bytes(r.path) == content) ++ok;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(downloaded.load(), 1);
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, TwoProcessesMakeOneDownload) {
  const std::string content = pseudo_random_bytes(48000, 32);
  const std::string path = "/slow" + serve("procs.pth", content);
  const std::string url = srv().http_url() + path;

  // The child is this test binary again; its ChildRole environment performs
  // one fetch and exits (see environment.cpp).
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  const std::string filter = "--gtest_filter=FetchTest.TwoProcessesMakeOneDownload";
  const std::string env_url = "MZ_FETCH_CHILD_URL=" + url;
  const std::string env_cache = "MZ_FETCH_CHILD_CACHE=" + cache_dir().string();
  const std::string env_sha = "MZ_FETCH_CHILD_SHA256=" + digest_of(content);
  const std::string env_ca = "MZ_FETCH_CHILD_CA=" + srv().ca_file().string();
  std::vector<char*> argv = {exe, const_cast<char*>(filter.c_str()), nullptr};
  std::vector<std::string> env_strings = {env_url, env_cache, env_sha, env_ca};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execve(exe, argv.data(), envp.data());
    ::_exit(127);
  }
  // Wait until the child is in the middle of its (throttled) download, then
  // ask for the same file: the parent must wait for the child's lock and
  // find the child's verified file.
  int status = 0;
  bool child_exited = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(cache_dir() / "procs.pth.part") && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(child, &status, WNOHANG) == child) {
      child_exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(child_exited) << "the child finished before the parent could overlap with it";
  bool parent_ok = false;
  bool parent_downloaded = true;
  std::string parent_error;
  try {
    const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
    parent_ok = read_bytes(r.path) == content;
    parent_downloaded = r.downloaded;
  } catch (const std::exception& e) {
    parent_error = e.what();
  }
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child process failed to fetch";
  EXPECT_TRUE(parent_ok) << parent_error;
  EXPECT_FALSE(parent_downloaded);
  EXPECT_EQ(read_bytes(cache_dir() / "procs.pth"), content);
  EXPECT_EQ(srv().request_count(path), 1u);
}

}  // namespace
