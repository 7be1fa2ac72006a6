// Misbehaving servers: Content-Length larger or smaller than the body, a
// connection reset mid-body, a stalled transfer, redirect loops, an HTML page
// answered with 200. Each case ends with a verified file or a clear error,
// and the cache never holds an unverified file under a final name.
#include "fetch/fetch_util.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- Content-Length larger than the body -----------------------------------

TEST_F(FetchTest, BodyShorterThanContentLengthEveryTimeStillCompletesBecauseEachAttemptAddsBytes) {
  // The first five answers announce the whole file but carry only 3000
  // bytes. Each attempt resumes where the last one stopped and, having made
  // progress, does not use up the three attempts: one call completes.
  const std::string content = pseudo_random_bytes(50000, 51);
  const std::string rel = serve("short.pth", content).substr(1);
  const std::string path = "/truncate/5/3000/" + rel;
  const std::string url = srv().http_url() + path;
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(r.bytes_transferred, content.size());
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 6u);
  for (std::size_t i = 1; i < log.size(); ++i) EXPECT_EQ(log[i].range, "bytes=" + std::to_string(3000 * i) + "-");
  EXPECT_EQ(log[5].body_bytes, content.size() - 15000);
  expect_only_verified_files({{"short.pth", content}});
}

TEST_F(FetchTest, BodyShorterThanContentLengthWithoutRetriesGivesUpKeepingAResumablePrefix) {
  const std::string content = pseudo_random_bytes(50000, 51);
  const std::string rel = serve("short.pth", content).substr(1);
  const std::string path = "/truncate/1/3000/" + rel;
  const std::string url = srv().http_url() + path;
  auto once = fast_options();
  once.max_attempts = 1;  // no retry at all
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(url, content), cache_, once); });
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, "model:TEST")) << msg;
  EXPECT_TRUE(contains(msg, "gave up after 1 attempt")) << msg;
  expect_only_verified_files({});
  EXPECT_EQ(read_bytes(cache_dir() / "short.pth.part"), content.substr(0, 3000));

  // The next run continues from byte 3000 and says so.
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.bytes_reused, 3000u);
  EXPECT_EQ(r.bytes_transferred, content.size() - 3000);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].range, "bytes=3000-");
  EXPECT_EQ(log[1].body_bytes, content.size() - 3000);
  expect_only_verified_files({{"short.pth", content}});
}

// --- Content-Length smaller than the body ----------------------------------

TEST_F(FetchTest, ContentLengthSmallerThanTheFileIsRefusedWhenTheSizeIsKnown) {
  const std::string content = pseudo_random_bytes(40000, 52);
  const std::string path = "/shortlen/1000" + serve("long.pth", content);
  const std::string url = srv().http_url() + path;
  try {
    fetch::fetch_to_cache(request(url, content), cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "announces 39000 bytes, expected 40000 bytes")) << msg;
    EXPECT_TRUE(contains(msg, url)) << msg;
  }
  EXPECT_EQ(srv().request_count(path), 1u);  // not retried: the server says this is the file
  expect_only_verified_files({});
  EXPECT_FALSE(fs::exists(cache_dir() / "long.pth.part"));
}

TEST_F(FetchTest, ContentLengthSmallerThanTheFileFailsVerificationWithoutASize) {
  const std::string content = pseudo_random_bytes(40000, 53);
  const std::string path = "/shortlen/1000" + serve("long.pth", content);
  const std::string url = srv().http_url() + path;
  auto req = request(url, content);
  req.expect.size.reset();  // only the hash is known
  try {
    fetch::fetch_to_cache(req, cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "expected " + digest_of(content))) << msg;
    EXPECT_TRUE(contains(msg, "got " + digest_of(content.substr(0, 39000)))) << msg;
    EXPECT_TRUE(contains(msg, url)) << msg;
  }
  EXPECT_EQ(srv().request_count(path), 1u);
  expect_only_verified_files({});
  EXPECT_FALSE(fs::exists(cache_dir() / "long.pth.part"));
}

// --- Connection reset mid-body ---------------------------------------------

TEST_F(FetchTest, ConnectionResetMidBodyIsResumed) {
  const std::string content = pseudo_random_bytes(300000, 54);
  const std::string rel = serve("reset.pth", content).substr(1);
  const std::string path = "/reset/1/100000/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().backend_url() + path, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().backend_requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].body_bytes, 100000u);
  // The second request continues after what arrived before the reset (a
  // reset may drop bytes still in flight, so the exact offset is the client's).
  ASSERT_EQ(log[1].range.rfind("bytes=", 0), 0u) << log[1].range;
  const uint64_t from = std::stoull(log[1].range.substr(6));
  EXPECT_GT(from, 0u);
  EXPECT_LE(from, 100000u);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].body_bytes, content.size() - from);
  expect_only_verified_files({{"reset.pth", content}});
}

TEST_F(FetchTest, ConnectionResetBeforeAnyByteEveryTimeIsAClearError) {
  // No attempt adds a byte, so each one counts against the bound.
  const std::string content = pseudo_random_bytes(300000, 55);
  const std::string rel = serve("resets.pth", content).substr(1);
  const std::string path = "/reset/9/0/" + rel;
  const std::string url = srv().backend_url() + path;
  auto o = fast_options();
  o.max_attempts = 2;
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(url, content), cache_, o); });
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, "gave up after 2 attempts")) << msg;
  EXPECT_TRUE(contains(msg, "reset") || contains(msg, "Recv failure")) << msg;
  EXPECT_EQ(srv().backend_requests(path).size(), 2u);
  expect_only_verified_files({});
}

// --- Stalls -----------------------------------------------------------------

TEST_F(FetchTest, StalledBodyHitsTheLowSpeedLimitAndIsResumed) {
  const std::string content = pseudo_random_bytes(60000, 56);
  const std::string rel = serve("stall.pth", content).substr(1);
  const std::string path = "/stall/1/20000/" + rel;
  auto o = fast_options();
  // libcurl averages the rate over a few seconds, so the 20000 bytes before
  // the stall would hide a 1 byte/s limit for a while; a silent connection is
  // below any limit, and loopback is far above this one.
  o.low_speed_limit_bytes = 100000;
  o.low_speed_time_seconds = 1;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, o);
  EXPECT_EQ(read_bytes(r.path), content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].range, "bytes=20000-");
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[1].body_bytes, content.size() - 20000);
  expect_only_verified_files({{"stall.pth", content}});
}

TEST_F(FetchTest, StallBeforeTheFirstByteEveryTimeIsAClearError) {
  const std::string content = pseudo_random_bytes(30000, 57);
  const std::string rel = serve("silent.pth", content).substr(1);
  const std::string path = "/stall/9/0/" + rel;
  const std::string url = srv().http_url() + path;
  auto o = fast_options();
  o.max_attempts = 2;
  o.low_speed_limit_bytes = 1;
  o.low_speed_time_seconds = 1;
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(url, content), cache_, o); });
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, "Timeout")) << msg;
  EXPECT_TRUE(contains(msg, "gave up after 2 attempts")) << msg;
  EXPECT_EQ(srv().backend_hits(path), 2);
  expect_only_verified_files({});
  EXPECT_EQ(size_or_zero(cache_dir() / "silent.pth.part"), 0u);
}

// --- Redirects ----------------------------------------------------------------

TEST_F(FetchTest, RedirectLoopIsAClearErrorNamingTheUrl) {
  const std::string path = "/loop/" + name_ + "/w.pth";
  const std::string url = srv().http_url() + path;
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(url, "x"), cache_, fast_options()); });
  EXPECT_TRUE(contains(msg, "too many redirects")) << msg;
  EXPECT_TRUE(contains(msg, "redirect loop")) << msg;
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, "model:TEST")) << msg;
  EXPECT_TRUE(contains(msg, (cache_dir() / "w.pth").string())) << msg;
  EXPECT_EQ(srv().request_count(path), 11u);  // the request and 10 redirects; not retried
  expect_only_verified_files({});
  EXPECT_FALSE(fs::exists(cache_dir() / "w.pth.part"));
}

TEST_F(FetchTest, TenRedirectsAreFollowedElevenAreTooMany) {
  const std::string content = pseudo_random_bytes(2000, 58);
  const std::string path = serve("far.pth", content);
  std::string ten, eleven;
  for (int i = 0; i < 10; ++i) ten += "/redirect";
  eleven = ten + "/redirect";
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + ten + path, content), cache_, fast_options());
  EXPECT_EQ(read_bytes(r.path), content);

  const cache::Cache other(cache::CacheOptions{tmp_ / "other", {}});
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(srv().http_url() + eleven + path, content), other, fast_options()); });
  EXPECT_TRUE(contains(msg, "too many redirects")) << msg;
  EXPECT_TRUE(contains(msg, srv().http_url() + eleven + path)) << msg;
  // The hop that was not followed any more.
  EXPECT_TRUE(contains(msg, "pointed to " + srv().http_url() + path)) << msg;
  EXPECT_FALSE(fs::exists(tmp_ / "other/far.pth"));
}

// --- An HTML page answered with 200 ---------------------------------------

TEST_F(FetchTest, HtmlPageWith200FailsAtOnceSayingItLooksLikeHtml) {
  const std::string content = pseudo_random_bytes(20000, 59);
  const std::string path = "/html200/" + name_ + "/w.pth";
  const std::string url = srv().https_url() + path;
  auto req = request(url, content, "resnet50:IMAGENET1K_V2");
  req.expect.size.reset();  // only the hash is known: the whole page is read and hashed
  try {
    fetch::fetch_to_cache(req, cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "sha256 mismatch for resnet50:IMAGENET1K_V2")) << msg;
    EXPECT_TRUE(contains(msg, url)) << msg;
    EXPECT_TRUE(contains(msg, "expected " + digest_of(content))) << msg;
    EXPECT_TRUE(contains(msg, "got ")) << msg;
    EXPECT_TRUE(contains(msg, "looks like HTML")) << msg;
    EXPECT_TRUE(contains(msg, "text/html")) << msg;
  }
  EXPECT_EQ(srv().request_count(path), 1u);  // a complete wrong file is not retried
  expect_only_verified_files({});
  EXPECT_FALSE(fs::exists(cache_dir() / "w.pth.part"));
  EXPECT_FALSE(fs::exists(cache_dir() / "w.pth.part.meta"));
}

TEST_F(FetchTest, HtmlBodyIsRecognisedWhateverTheContentType) {
  // A static file (served as application/octet-stream) that is a web page.
  const std::string page = "\n  <!DOCTYPE html><html><body>Access denied</body></html>\n";
  const std::string content = pseudo_random_bytes(20000, 60);
  const std::string path = serve("page.pth", page);
  auto req = request(srv().http_url() + path, content);
  req.expect.size.reset();
  try {
    fetch::fetch_to_cache(req, cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "got " + digest_of(page))) << msg;
    EXPECT_TRUE(contains(msg, "looks like HTML")) << msg;
    EXPECT_FALSE(contains(msg, "text/html")) << msg;
  }
  EXPECT_EQ(srv().request_count(path), 1u);
  expect_only_verified_files({});
}

TEST_F(FetchTest, HtmlPageOfTheWrongSizeIsRefusedBeforeItIsStored) {
  const std::string content = pseudo_random_bytes(20000, 61);
  const std::string path = "/html200/" + name_ + "/w.pth";
  try {
    fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "expected 20000 bytes")) << msg;
    EXPECT_TRUE(contains(msg, "looks like HTML")) << msg;
  }
  EXPECT_EQ(srv().request_count(path), 1u);
  expect_only_verified_files({});
  EXPECT_FALSE(fs::exists(cache_dir() / "w.pth.part"));
}

}  // namespace
