// A downloading process killed with SIGKILL at several points, a disk that
// fills up (RLIMIT_FSIZE), and private partial files: the next run resumes
// or restarts as it should, the dead process's lock never blocks, and nothing
// unverified ever carries the final name. The downloading processes are this
// binary again in the child role of environment.cpp.
#include <mutex>

#include "fetch/fetch_util.h"
#include "modelzoo/cache/maintenance.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;
using mz_cache_test::write_bytes;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// True while `pid` has not exited (reaps it when it has).
bool running(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == 0;
}

TEST_F(FetchTest, KilledBeforeTheFirstByteThenARerunDownloadsEverything) {
  const std::string content = pseudo_random_bytes(80000, 71);
  const std::string rel = serve("k0.pth", content).substr(1);
  const std::string path = "/stall/1/0/" + rel;  // headers, then silence
  const std::string url = srv().http_url() + path;
  const pid_t child = spawn_child(child_env(url, content));
  ASSERT_GT(child, 0);
  ASSERT_TRUE(wait_for([&] { return srv().backend_hits(path) == 1 || !running(child); }));
  ASSERT_TRUE(running(child));
  kill_and_reap(child);

  // The dead process's lock is free at once; nothing is under the final name.
  EXPECT_TRUE(cache::TryEntryLock(cache_dir() / "k0.pth").acquired());
  expect_only_verified_files({});
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "");  // nothing to resume
  EXPECT_EQ(log[1].status, 200);
  EXPECT_EQ(log[1].body_bytes, content.size());
  expect_only_verified_files({{"k0.pth", content}});
}

TEST_F(FetchTest, KilledMidBodyThenAWaitingProcessTakesOverAndResumes) {
  const std::string content = pseudo_random_bytes(120000, 72);
  const std::string rel = serve("k1.pth", content).substr(1);
  const std::string path = "/stall/1/40000/" + rel;  // 40000 bytes, then silence
  const std::string url = srv().http_url() + path;
  const pid_t child = spawn_child(child_env(url, content));
  ASSERT_GT(child, 0);
  const fs::path part = cache_dir() / "k1.pth.part";
  ASSERT_TRUE(wait_for([&] {
    return (size_or_zero(part) == 40000 && fs::exists(cache_dir() / "k1.pth.part.meta")) || !running(child);
  }));
  ASSERT_TRUE(running(child));

  // Another fetch of the same file waits for the child's lock, watching its progress.
  std::mutex mu;
  std::vector<fetch::Progress> seen;
  auto o = fast_options();
  o.on_progress = [&](const fetch::Progress& p) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(p);
  };
  fetch::FetchResult result;
  std::string error;
  std::thread waiter([&] {
    try {
      result = fetch::fetch_to_cache(request(url, content), cache_, o);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !seen.empty() && seen.back().waiting && seen.back().bytes == 40000;
  }));
  kill_and_reap(child);  // the lock goes with the process; the waiter takes over
  waiter.join();
  ASSERT_EQ(error, "");
  EXPECT_TRUE(result.downloaded);
  EXPECT_EQ(read_bytes(result.path), content);

  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].body_bytes, 40000u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].range, "bytes=40000-");
  EXPECT_FALSE(log[1].if_range.empty());
  EXPECT_EQ(log[1].body_bytes, content.size() - 40000);

  // Progress: waiting reports up to the dead child's 40000 bytes, then the
  // waiter's own transfer counting the kept prefix, ending at the total.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(seen.empty());
  std::size_t own = 0;
  while (own < seen.size() && seen[own].waiting) ++own;
  ASSERT_GT(own, 0u);
  ASSERT_LT(own, seen.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    ASSERT_TRUE(seen[i].total.has_value());
    EXPECT_EQ(*seen[i].total, content.size());
    EXPECT_EQ(seen[i].waiting, i < own);
    if (i > 0) {
      EXPECT_GE(seen[i].bytes, seen[i - 1].bytes);
    }
  }
  EXPECT_GE(seen[own].bytes, 40000u);
  EXPECT_EQ(seen.back().bytes, content.size());
  expect_only_verified_files({{"k1.pth", content}});
}

TEST_F(FetchTest, KilledAfterTheLastByteBeforeTheRenameThenARerunPublishesWithoutARequest) {
  const std::string content = pseudo_random_bytes(90000, 73);
  const std::string path = serve("k2.pth", content);
  const std::string url = srv().http_url() + path;
  // The child pauses in its final progress report: every byte written to the
  // partial file, nothing verified or renamed yet.
  const fs::path marker = tmp_ / "complete";
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_PAUSE_FILE"] = marker.string();
  const pid_t child = spawn_child(env);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(marker) || !running(child); }));
  ASSERT_TRUE(running(child));
  kill_and_reap(child);
  EXPECT_EQ(read_bytes(cache_dir() / "k2.pth.part"), content);
  expect_only_verified_files({});  // complete but unverified: not under the final name

  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(cache_.read_stamp(r.path), digest_of(content));
  EXPECT_EQ(srv().request_count(path), 1u);  // only the killed child's
  EXPECT_FALSE(fs::exists(cache_dir() / "k2.pth.part"));
  EXPECT_FALSE(fs::exists(cache_dir() / "k2.pth.part.meta"));
  expect_only_verified_files({{"k2.pth", content}});
}

TEST_F(FetchTest, CompleteButCorruptedPartialIsDiscardedAndDownloadedAgain) {
  const std::string content = pseudo_random_bytes(90000, 74);
  const std::string path = serve("k3.pth", content);
  const std::string url = srv().http_url() + path;
  const fs::path marker = tmp_ / "complete";
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_PAUSE_FILE"] = marker.string();
  const pid_t child = spawn_child(env);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(marker) || !running(child); }));
  kill_and_reap(child);
  std::string damaged = content;
  damaged[50000] = static_cast<char>(damaged[50000] ^ 1);
  write_bytes(cache_dir() / "k3.pth.part", damaged);

  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "");
  EXPECT_EQ(log[1].status, 200);
  expect_only_verified_files({{"k3.pth", content}});
}

TEST_F(FetchTest, DiskFullDuringTheDownloadIsAClearErrorAndARerunSucceeds) {
  // Another verified entry that must survive untouched.
  const std::string other = pseudo_random_bytes(5000, 75);
  write_bytes(cache_dir() / "other.pth", other);
  cache_.write_stamp(cache_dir() / "other.pth", digest_of(other));

  const std::string content = pseudo_random_bytes(400000, 76);
  const std::string path = serve("big.pth", content);
  const std::string url = srv().http_url() + path;
  const fs::path err_file = tmp_ / "child.err";
  const pid_t child = spawn_child(child_env(url, content), err_file.string(), /*file_size_limit=*/100000);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died from a signal: " << status;
  EXPECT_EQ(WEXITSTATUS(status), 3);
  const std::string msg = read_bytes(err_file);
  EXPECT_TRUE(contains(msg, "cannot write " + (cache_dir() / "big.pth.part").string())) << msg;
  EXPECT_TRUE(contains(msg, "File too large")) << msg;
  EXPECT_TRUE(contains(msg, "no space to store the download")) << msg;
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_EQ(srv().request_count(path), 1u);  // a local failure is not retried

  // The cache is intact: the other entry verified, nothing under the new name,
  // and the partial file is gone (it would only hold on to the space).
  EXPECT_EQ(cache_.read_stamp(cache_dir() / "other.pth"), digest_of(other));
  EXPECT_FALSE(fs::exists(cache_dir() / "big.pth.part"));
  expect_only_verified_files({{"other.pth", other}});

  // Without the limit, the same download succeeds.
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  expect_only_verified_files({{"other.pth", other}, {"big.pth", content}});
}

TEST_F(FetchTest, PrivatePartialsAreNeverSharedAndNotKeptForLaterRuns) {
  const std::string content = pseudo_random_bytes(60000, 77);
  const std::string rel = serve("p.pth", content).substr(1);
  auto o = fast_options();
  o.private_partials = true;

  // Within one call a cut transfer still resumes (from the private file).
  const std::string cut = "/truncate/1/20000/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + cut, content), cache_, o);
  EXPECT_EQ(read_bytes(r.path), content);
  auto log = srv().requests(cut);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "bytes=20000-");
  expect_only_verified_files({{"p.pth", content}});
  for (const auto& name : mz_cache_test::listing(cache_dir())) {
    EXPECT_TRUE(name == "p.pth" || name == "p.pth.lock" || name == "p.pth.mzstamp") << name;
  }

  // A run that gives up removes its private file instead of keeping it.
  const cache::Cache other(cache::CacheOptions{tmp_ / "other", {}});
  auto once = o;
  once.max_attempts = 1;
  const std::string cut2 = "/truncate/1/20000/" + rel + "?second";
  EXPECT_THROW(fetch::fetch_to_cache(request(srv().http_url() + cut2, content, "model:TEST"), other, once),
               FetchError);
  const std::vector<std::string> only_lock = {"p.pth.lock"};
  EXPECT_EQ(mz_cache_test::listing(tmp_ / "other"), only_lock);
}

TEST_F(FetchTest, PrivatePartialOfAKilledProcessIsATemporaryForPrune) {
  const std::string content = pseudo_random_bytes(80000, 78);
  const std::string rel = serve("pk.pth", content).substr(1);
  const std::string path = "/stall/1/30000/" + rel;
  const std::string url = srv().http_url() + path;
  // As on a network filesystem (FetchOptions::private_partials).
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_PRIVATE"] = "1";
  const pid_t child = spawn_child(env);
  ASSERT_GT(child, 0);
  fs::path temp;
  ASSERT_TRUE(wait_for([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache_dir(), ec)) {
      const std::string n = e.path().filename().string();
      if (n.find(".mztmp") != std::string::npos && n.find(".meta") == std::string::npos &&
          size_or_zero(e.path()) == 30000) {
        temp = e.path();
      }
    }
    return !temp.empty() || !running(child);
  }));
  ASSERT_TRUE(running(child));
  EXPECT_FALSE(fs::exists(cache_dir() / "pk.pth.part"));
  EXPECT_NE(temp.filename().string().find(".@" + cache::host_tag() + "." + std::to_string(child) + "."),
            std::string::npos)
      << temp;
  kill_and_reap(child);

  // Its owner is gone: housekeeping sees an abandoned temporary.
  bool found = false;
  for (const auto& f : cache::list_side_files(cache_)) {
    if (f.path != temp) continue;
    found = true;
    EXPECT_EQ(f.kind, cache::SideKind::Temporary);
    EXPECT_EQ(f.owner_pid, child);
    EXPECT_TRUE(cache::is_abandoned_temporary(f, f.mtime_ns));
  }
  EXPECT_TRUE(found);
  // A rerun does not adopt another process's private file: it starts afresh.
  auto o = fast_options();
  o.private_partials = true;
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, o);
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "");
  expect_only_verified_files({{"pk.pth", content}});
}

}  // namespace
