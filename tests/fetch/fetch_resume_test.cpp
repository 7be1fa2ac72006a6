// Resuming interrupted downloads with Range + If-Range, against nginx and the
// harness backend (which can cut a body short).
#include "fetch/fetch_util.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;

TEST_F(FetchTest, TruncatedTransferIsResumedWithinOneCall) {
  const std::string content = pseudo_random_bytes(200000, 21);
  const std::string rel = serve("cut.pth", content).substr(1);
  const std::string path = "/truncate/1/50000/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].range, "");
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].range, "bytes=50000-");
  EXPECT_FALSE(log[1].if_range.empty());
  EXPECT_EQ(log[1].body_bytes, content.size() - 50000);
  EXPECT_FALSE(fs::exists(cache_dir() / "cut.pth.part"));
  EXPECT_FALSE(fs::exists(cache_dir() / "cut.pth.part.meta"));
}

TEST_F(FetchTest, InterruptedDownloadResumesInALaterRun) {
  const std::string content = pseudo_random_bytes(120000, 22);
  const std::string rel = serve("later.pth", content).substr(1);
  const std::string path = "/truncate/1/30000/" + rel;
  auto once = fast_options();
  once.max_attempts = 1;
  EXPECT_THROW(fetch::fetch_to_cache(request(srv().https_url() + path, content), cache_, once), FetchError);
  // The partial prefix and its validators stay for the next run; nothing is published.
  EXPECT_FALSE(fs::exists(cache_dir() / "later.pth"));
  ASSERT_TRUE(fs::exists(cache_dir() / "later.pth.part"));
  ASSERT_TRUE(fs::exists(cache_dir() / "later.pth.part.meta"));
  EXPECT_EQ(read_bytes(cache_dir() / "later.pth.part"), content.substr(0, 30000));

  std::vector<fetch::Progress> seen;
  auto o = fast_options();
  o.on_progress = [&](const fetch::Progress& p) { seen.push_back(p); };
  const auto r = fetch::fetch_to_cache(request(srv().https_url() + path, content), cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.sha256, digest_of(content));
  // Reported as a resumed download of what this run fetched, not of the whole file.
  EXPECT_TRUE(r.resumed);
  EXPECT_FALSE(r.published_kept_part);
  EXPECT_EQ(r.bytes_reused, 30000u);
  EXPECT_EQ(r.bytes_transferred, content.size() - 30000);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].range, "bytes=30000-");
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().bytes, content.size());  // the kept prefix counts
}

TEST_F(FetchTest, CorruptedPrefixIsDetectedAndRedownloaded) {
  const std::string content = pseudo_random_bytes(90000, 23);
  const std::string rel = serve("corrupt.pth", content).substr(1);
  const std::string path = "/truncate/1/40000/" + rel;
  auto once = fast_options();
  once.max_attempts = 1;
  EXPECT_THROW(fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, once), FetchError);
  // Damage the kept prefix: the resumed file then fails verification, and the
  // download starts over from zero instead of reporting a mismatch.
  {
    std::fstream f(cache_dir() / "corrupt.pth.part", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put(static_cast<char>(content[100] ^ 0x5a));
  }
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[2].status, 200);
  EXPECT_EQ(log[2].range, "");
}

TEST_F(FetchTest, StaleValidatorRestartsTheDownload) {
  const std::string old_content = pseudo_random_bytes(80000, 24);
  const std::string rel = serve("stale.pth", old_content).substr(1);
  const std::string path = "/truncate/1/20000/" + rel;
  auto once = fast_options();
  once.max_attempts = 1;
  EXPECT_THROW(fetch::fetch_to_cache(request(srv().http_url() + path, old_content), cache_, once), FetchError);
  ASSERT_TRUE(fs::exists(cache_dir() / "stale.pth.part"));

  // The file changes on the server (new size, so a new ETag): If-Range no
  // longer matches, the server answers 200 and the download starts over.
  const std::string new_content = pseudo_random_bytes(90000, 25);
  serve("stale.pth", new_content);
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, new_content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), new_content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "bytes=20000-");
  EXPECT_FALSE(log[1].if_range.empty());
  EXPECT_EQ(log[1].status, 200);
  EXPECT_EQ(log[1].body_bytes, new_content.size());
}

TEST_F(FetchTest, SlowTransferHitsTheLowSpeedLimitThenNginxResumesIt) {
  // nginx's own static files: the first run gives up on a throttled transfer,
  // the second resumes it with a Range request answered 206 by nginx.
  const std::string content = pseudo_random_bytes(100000, 26);
  const std::string rel = serve("slow.pth", content).substr(1);
  const std::string path = "/slow/" + rel;
  auto impatient = fast_options();
  impatient.max_attempts = 1;
  impatient.low_speed_limit_bytes = 1000000;  // the /slow/ location sends 32 KiB/s
  impatient.low_speed_time_seconds = 1;
  try {
    fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, impatient);
    FAIL() << "expected a low-speed timeout";
  } catch (const FetchError& e) {
    EXPECT_NE(std::string(e.what()).find("Timeout"), std::string::npos) << e.what();
  }
  std::error_code ec;
  const auto kept = fs::file_size(cache_dir() / "slow.pth.part", ec);
  ASSERT_FALSE(ec);
  ASSERT_GT(kept, 0u);
  ASSERT_LT(kept, content.size());

  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].range, "bytes=" + std::to_string(kept) + "-");
  EXPECT_EQ(log[1].body_bytes, content.size() - kept);
}

TEST_F(FetchTest, PartialFromAnotherUrlIsNotResumed) {
  const std::string content = pseudo_random_bytes(70000, 27);
  const std::string rel = serve("other.pth", content).substr(1);
  auto once = fast_options();
  once.max_attempts = 1;
  EXPECT_THROW(fetch::fetch_to_cache(request(srv().http_url() + "/truncate/1/10000/" + rel, content), cache_, once),
               FetchError);
  ASSERT_TRUE(fs::exists(cache_dir() / "other.pth.part"));
  const std::string path = "/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].range, "");
  EXPECT_EQ(log[0].status, 200);
}

}  // namespace
