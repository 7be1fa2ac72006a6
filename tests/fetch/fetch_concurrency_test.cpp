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

TEST_F(FetchTest, EightProcessesOnAColdCacheMakeOneDownload) {
  const std::string content = pseudo_random_bytes(48000, 33);
  const std::string path = "/slow" + serve("eight.pth", content);  // about 1.5 s: they all overlap
  const std::string url = srv().http_url() + path;
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(spawn_child(child_env(url, content), (tmp_ / ("child" + std::to_string(i))).string()));
    ASSERT_GT(children.back(), 0);
  }
  int downloaded = 0, hits = 0;
  for (int i = 0; i < 8; ++i) {
    int status = 0;
    ASSERT_EQ(::waitpid(children[i], &status, 0), children[i]);
    const std::string out = read_bytes(tmp_ / ("child" + std::to_string(i)));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << i << ": " << out;
    if (out.find("child: downloaded " + digest_of(content)) != std::string::npos) ++downloaded;
    if (out.find("child: hit " + digest_of(content)) != std::string::npos) ++hits;
  }
  EXPECT_EQ(downloaded, 1);
  EXPECT_EQ(hits, 7);
  EXPECT_EQ(srv().request_count(path), 1u);
  expect_only_verified_files({{"eight.pth", content}});
}

TEST_F(FetchTest, TwoProcessesMakeOneDownloadAndTheWaiterSeesProgress) {
  const std::string content = pseudo_random_bytes(48000, 32);
  const std::string path = "/slow" + serve("procs.pth", content);
  const std::string url = srv().http_url() + path;

  // The child is this test binary again in its ChildRole (environment.cpp).
  const pid_t child = spawn_child(child_env(url, content));
  ASSERT_GT(child, 0);
  // Wait until the child is in the middle of its (throttled) download, then
  // ask for the same file: the parent must wait for the child's lock, see the
  // child's progress meanwhile, and find the child's verified file.
  int status = 0;
  bool child_exited = false;
  const bool started = wait_for([&] {
    if (::waitpid(child, &status, WNOHANG) == child) child_exited = true;
    return child_exited || size_or_zero(cache_dir() / "procs.pth.part") > 0;
  });
  ASSERT_TRUE(started);
  ASSERT_FALSE(child_exited) << "the child finished before the parent could overlap with it";
  std::vector<fetch::Progress> seen;
  auto o = fast_options();
  o.on_progress = [&](const fetch::Progress& p) { seen.push_back(p); };
  bool parent_ok = false;
  bool parent_downloaded = true;
  std::string parent_error;
  try {
    const auto r = fetch::fetch_to_cache(request(url, content), cache_, o);
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

  // The waiter's reports: the child's partial file growing, never shrinking,
  // out of the expected size, then the whole file.
  ASSERT_GE(seen.size(), 2u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(seen[i].waiting);
    ASSERT_TRUE(seen[i].total.has_value());
    EXPECT_EQ(*seen[i].total, content.size());
    EXPECT_LE(seen[i].bytes, content.size());
    EXPECT_EQ(seen[i].url, url);
    if (i > 0) {
      EXPECT_GE(seen[i].bytes, seen[i - 1].bytes);
    }
  }
  EXPECT_GT(seen.front().bytes, 0u);
  EXPECT_LT(seen.front().bytes, content.size());
  EXPECT_EQ(seen.back().bytes, content.size());
}

}  // namespace
