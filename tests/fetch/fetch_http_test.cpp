// fetch_to_cache against the loopback nginx: downloads, verification, cache
// hits, HTTP failures, retries, mirrors and offline mode.
#include <sys/stat.h>

#include <chrono>

#include "fetch/fetch_util.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::listing;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;
using mz_cache_test::write_bytes;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(FetchTest, HttpDownloadVerifiesAndStamps) {
  const std::string content = pseudo_random_bytes(100000, 1);
  const std::string path = serve("w-1.pth", content);
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.path, cache_dir() / "w-1.pth");
  EXPECT_EQ(r.bytes, content.size());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.url, srv().http_url() + path);
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(cache_.read_stamp(r.path), digest_of(content));
  // Only the file, its stamp and its lock remain.
  const std::vector<std::string> expected = {"w-1.pth", "w-1.pth.lock", "w-1.pth.mzstamp"};
  EXPECT_EQ(listing(cache_dir()), expected);
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, HttpsDownloadWithTheGeneratedCa) {
  const std::string content = pseudo_random_bytes(5000, 2);
  const std::string path = serve("tls.pth", content);
  const auto r = fetch::fetch_to_cache(request(srv().https_url() + path, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, RedirectsAreFollowed) {
  const std::string content = pseudo_random_bytes(3000, 16);
  const std::string path = serve("moved.pth", content);
  const auto r = fetch::fetch_to_cache(request(srv().https_url() + "/redirect" + path, content), cache_,
                                       fast_options());
  EXPECT_EQ(read_bytes(r.path), content);
  const auto hops = srv().requests("/redirect" + path);
  ASSERT_EQ(hops.size(), 1u);
  EXPECT_EQ(hops[0].status, 302);
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, HttpsWithoutTheCaFailsWithATlsError) {
  const std::string content = "tls content";
  const std::string path = serve("tls.pth", content);
  auto o = fast_options();
  o.ca_file.clear();  // libcurl's default bundle does not know the test CA
  const auto start = Clock::now();
  try {
    fetch::fetch_to_cache(request(srv().https_url() + path, content), cache_, o);
    FAIL() << "expected a TLS failure";
  } catch (const FetchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "TLS verification failed")) << msg;
    EXPECT_TRUE(contains(msg, srv().https_url() + path)) << msg;
    EXPECT_TRUE(contains(msg, (cache_dir() / "tls.pth").string())) << msg;
    EXPECT_TRUE(contains(msg, "model:TEST")) << msg;
  }
  EXPECT_LT(seconds_since(start), 2.0);  // permanent: no retries
  EXPECT_FALSE(fs::exists(cache_dir() / "tls.pth"));
  EXPECT_FALSE(fs::exists(cache_dir() / "tls.pth.part"));
  EXPECT_EQ(srv().request_count(path), 0u);  // the handshake never got as far as a request
}

TEST_F(FetchTest, CacheHitMakesNoRequest) {
  const std::string content = pseudo_random_bytes(20000, 3);
  const std::string path = serve("hit.pth", content);
  const auto req = request(srv().http_url() + path, content);
  ASSERT_TRUE(fetch::fetch_to_cache(req, cache_, fast_options()).downloaded);
  for (int i = 0; i < 3; ++i) {
    const auto r = fetch::fetch_to_cache(req, cache_, fast_options());
    EXPECT_FALSE(r.downloaded);
    EXPECT_EQ(r.sha256, digest_of(content));
    EXPECT_EQ(r.bytes, content.size());
  }
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, UnstampedMatchingFileIsRehashedStampedAndUsed) {
  const std::string content = pseudo_random_bytes(3000, 4);
  const std::string path = serve("py.pth", content);
  write_bytes(cache_dir() / "py.pth", content);  // e.g. downloaded by Python's torch.hub
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_FALSE(r.downloaded);
  EXPECT_EQ(cache_.read_stamp(cache_dir() / "py.pth"), digest_of(content));
  EXPECT_EQ(srv().request_count(path), 0u);
}

TEST_F(FetchTest, MismatchingCachedFileIsDownloadedAgain) {
  const std::string content = pseudo_random_bytes(3000, 5);
  const std::string path = serve("bad.pth", content);
  write_bytes(cache_dir() / "bad.pth", pseudo_random_bytes(3000, 6));
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_bytes(cache_dir() / "bad.pth"), content);
  EXPECT_EQ(cache_.read_stamp(cache_dir() / "bad.pth"), digest_of(content));
  EXPECT_EQ(srv().request_count(path), 1u);
}

TEST_F(FetchTest, HashMismatchLeavesTheCacheEmptyAndSaysWhy) {
  const std::string served = pseudo_random_bytes(50000, 7);
  const std::string path = serve("evil.pth", served);
  auto req = request("http://user:hunter2@127.0.0.1:" + std::to_string(srv().http_port()) + path +
                         "?token=s3cr3t&v=1",
                     served, "evil:IMAGENET1K_V1");
  req.expect.sha256 = std::string(64, '0');
  try {
    fetch::fetch_to_cache(req, cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "evil:IMAGENET1K_V1")) << msg;
    EXPECT_TRUE(contains(msg, "http://127.0.0.1:" + std::to_string(srv().http_port()) + path)) << msg;
    EXPECT_TRUE(contains(msg, (cache_dir() / "evil.pth").string())) << msg;
    // The path is named as where nothing was stored, never as where the file went.
    EXPECT_TRUE(contains(msg, "nothing was stored as " + (cache_dir() / "evil.pth").string())) << msg;
    EXPECT_FALSE(contains(msg, "downloaded ")) << msg;
    EXPECT_TRUE(contains(msg, std::string(64, '0'))) << msg;
    EXPECT_TRUE(contains(msg, digest_of(served))) << msg;
    EXPECT_FALSE(contains(msg, "hunter2")) << msg;
    EXPECT_FALSE(contains(msg, "s3cr3t")) << msg;
  }
  EXPECT_FALSE(fs::exists(cache_dir() / "evil.pth"));
  EXPECT_FALSE(fs::exists(cache_dir() / "evil.pth.part"));
  EXPECT_FALSE(fs::exists(cache_dir() / "evil.pth.part.meta"));
  EXPECT_FALSE(fs::exists(cache_dir() / "evil.pth.mzstamp"));
  EXPECT_EQ(srv().request_count(path), 1u);  // a complete file with the wrong hash is not retried
}

TEST_F(FetchTest, AnnouncedSizeMismatchIsRefused) {
  const std::string served = pseudo_random_bytes(4000, 8);
  const std::string path = serve("size.pth", served);
  auto req = request(srv().http_url() + path, served);
  req.expect.size = 1234;
  try {
    fetch::fetch_to_cache(req, cache_, fast_options());
    FAIL() << "expected HashMismatchError";
  } catch (const HashMismatchError& e) {
    EXPECT_TRUE(contains(e.what(), "4000 bytes")) << e.what();
    EXPECT_TRUE(contains(e.what(), "1234 bytes")) << e.what();
  }
  EXPECT_FALSE(fs::exists(cache_dir() / "size.pth"));
  EXPECT_FALSE(fs::exists(cache_dir() / "size.pth.part"));
}

TEST_F(FetchTest, NotFoundAndForbiddenFailAtOnce) {
  for (int code : {404, 403}) {
    const std::string path = "/status/" + std::to_string(code) + "/" + name_ + "/gone.pth";
    const auto start = Clock::now();
    try {
      fetch::fetch_to_cache(request(srv().http_url() + path, "x"), cache_, fast_options());
      FAIL() << "expected FetchError for " << code;
    } catch (const FetchError& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(contains(msg, "HTTP " + std::to_string(code))) << msg;
      EXPECT_TRUE(contains(msg, srv().http_url() + path)) << msg;
      EXPECT_TRUE(contains(msg, "model:TEST")) << msg;
      EXPECT_TRUE(contains(msg, (cache_dir() / "gone.pth").string())) << msg;  // the target path, as docs/cache.md says
    }
    EXPECT_LT(seconds_since(start), 2.0);
    EXPECT_EQ(srv().request_count(path), 1u) << code;
  }
  EXPECT_FALSE(fs::exists(cache_dir() / "gone.pth"));
}

TEST_F(FetchTest, ServiceUnavailableIsRetriedUpToTheBound) {
  const std::string path = "/status/503/" + name_ + "/busy.pth";
  auto o = fast_options();
  o.max_attempts = 3;
  const auto start = Clock::now();
  try {
    fetch::fetch_to_cache(request(srv().http_url() + path, "x"), cache_, o);
    FAIL() << "expected FetchError";
  } catch (const FetchError& e) {
    EXPECT_TRUE(contains(e.what(), "HTTP 503")) << e.what();
    EXPECT_TRUE(contains(e.what(), "gave up after 3 attempts")) << e.what();
  }
  // Retry-After: 1 is capped by backoff_max_seconds (0.05 s here).
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_EQ(srv().request_count(path), 3u);
}

TEST_F(FetchTest, TooManyRequestsHonoursRetryAfter) {
  const std::string content = pseudo_random_bytes(1000, 9);
  const std::string rel = serve("429.pth", content).substr(1);
  const std::string path = "/flaky/429/1/" + rel;
  auto o = fast_options();
  o.backoff_max_seconds = 5;  // lets the server's Retry-After: 1 through
  const auto start = Clock::now();
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_GE(seconds_since(start), 0.9);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 429);
  EXPECT_EQ(log[1].status, 200);
}

TEST_F(FetchTest, TransientFailuresThenSuccess) {
  const std::string content = pseudo_random_bytes(7000, 10);
  const std::string rel = serve("flaky.pth", content).substr(1);
  const std::string path = "/flaky/500/2/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().https_url() + path, content), cache_, fast_options());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(srv().request_count(path), 3u);
}

TEST_F(FetchTest, ConnectionRefusedIsRetriedThenReported) {
  // Port 1 (tcpmux) has no listener on loopback here: connecting is refused.
  const int port = 1;
  auto o = fast_options();
  o.max_attempts = 2;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/nothing.pth";
  try {
    fetch::fetch_to_cache(request(url, "x"), cache_, o);
    FAIL() << "expected FetchError";
  } catch (const FetchError& e) {
    EXPECT_TRUE(contains(e.what(), url)) << e.what();
    EXPECT_TRUE(contains(e.what(), "gave up after 2 attempts")) << e.what();
  }
}

TEST_F(FetchTest, MirrorsAreTriedInOrderBeforeTheOwnUrl) {
  const std::string content = pseudo_random_bytes(6000, 11);
  const std::string own = serve("m.pth", content);
  srv().write_file("mirror-" + name_ + "/m.pth", content);
  auto o = fast_options();
  o.max_attempts = 2;
  o.mirrors = {srv().http_url() + "/status/404/" + name_,                 // permanent failure
               srv().http_url() + "/status/503/" + name_ + "/",           // transient, gives up
               srv().https_url() + "/mirror-" + name_};                   // good
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + own, content), cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.url, srv().https_url() + "/mirror-" + name_ + "/m.pth");
  EXPECT_EQ(srv().request_count("/status/404/" + name_ + "/m.pth"), 1u);
  EXPECT_EQ(srv().request_count("/status/503/" + name_ + "/m.pth"), 2u);
  EXPECT_EQ(srv().request_count("/mirror-" + name_ + "/m.pth"), 1u);
  EXPECT_EQ(srv().request_count(own), 0u);
}

TEST_F(FetchTest, MirrorWithWrongContentFailsOverToTheOwnUrl) {
  const std::string content = pseudo_random_bytes(6000, 12);
  const std::string own = serve("m.pth", content);
  srv().write_file("bad-mirror-" + name_ + "/m.pth", pseudo_random_bytes(6000, 13));
  auto o = fast_options();
  o.mirrors = {srv().http_url() + "/bad-mirror-" + name_};
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + own, content), cache_, o);
  EXPECT_EQ(r.url, srv().http_url() + own);
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(srv().request_count("/bad-mirror-" + name_ + "/m.pth"), 1u);
  EXPECT_EQ(srv().request_count(own), 1u);
  // Not skipped silently: the result names the mirror and what was wrong.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], srv().http_url() + "/bad-mirror-" + name_ + "/m.pth")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "sha256 mismatch")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "used " + srv().http_url() + own)) << r.warnings[0];
}

TEST_F(FetchTest, EverySourceFailingNamesEachOfThem) {
  auto o = fast_options();
  o.mirrors = {srv().http_url() + "/status/404/" + name_ + "/a"};
  const std::string own = srv().http_url() + "/status/403/" + name_ + "/m.pth";
  const std::string msg = fetch_error_of([&] { fetch::fetch_to_cache(request(own, "x"), cache_, o); });
  EXPECT_TRUE(contains(msg, "every source failed for model:TEST")) << msg;
  EXPECT_TRUE(contains(msg, "HTTP 404 for " + srv().http_url() + "/status/404/" + name_ + "/a/m.pth")) << msg;
  EXPECT_TRUE(contains(msg, "HTTP 403 for " + own)) << msg;
}

TEST_F(FetchTest, OfflineMissingFileIsAClearErrorWithoutNetwork) {
  const std::string content = "offline";
  const std::string path = serve("off.pth", content);
  const auto before = srv().access_log().size();
  auto o = fast_options();
  o.offline = true;
  o.mirrors = {srv().http_url() + "/mirror"};
  const cache::Cache cache(cache::CacheOptions{cache_dir(), {tmp_ / "ro1", tmp_ / "ro2"}});
  try {
    fetch::fetch_to_cache(request(srv().http_url() + path, content, "vgg19:IMAGENET1K_V1"), cache, o);
    FAIL() << "expected CacheError";
  } catch (const CacheError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "offline")) << msg;
    EXPECT_TRUE(contains(msg, "vgg19:IMAGENET1K_V1")) << msg;
    EXPECT_TRUE(contains(msg, "off.pth")) << msg;
    EXPECT_TRUE(contains(msg, (tmp_ / "ro1").string())) << msg;
    EXPECT_TRUE(contains(msg, (tmp_ / "ro2").string())) << msg;
    EXPECT_TRUE(contains(msg, cache_dir().string())) << msg;
    EXPECT_TRUE(contains(msg, "cache_tool fetch vgg19:IMAGENET1K_V1")) << msg;
    EXPECT_TRUE(contains(msg, "cache_tool import")) << msg;
  }
  EXPECT_EQ(srv().access_log().size(), before);  // zero requests, mirrors included
  EXPECT_FALSE(fs::exists(cache_dir()));
}

TEST_F(FetchTest, OfflineWithAWrongCachedFileSaysSo) {
  write_bytes(cache_dir() / "w.pth", "tampered");
  auto o = fast_options();
  o.offline = true;
  try {
    fetch::fetch_to_cache(request(srv().http_url() + "/t/w.pth", "original"), cache_, o);
    FAIL() << "expected CacheError";
  } catch (const CacheError& e) {
    // One diagnosis: the file is there but wrong, not "missing" as well.
    EXPECT_TRUE(contains(e.what(), "the cached " + (cache_dir() / "w.pth").string() + " does not match")) << e.what();
    EXPECT_FALSE(contains(e.what(), "not in the cache")) << e.what();
    EXPECT_TRUE(contains(e.what(), "offline mode cannot download it again")) << e.what();
  }
  EXPECT_EQ(read_bytes(cache_dir() / "w.pth"), "tampered");  // not ours to delete offline
}

TEST_F(FetchTest, OfflineCacheHitWorks) {
  const std::string content = "cached already";
  write_bytes(cache_dir() / "ok.pth", content);
  auto o = fast_options();
  o.offline = true;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + "/t/ok.pth", content), cache_, o);
  EXPECT_FALSE(r.downloaded);
  EXPECT_EQ(r.sha256, digest_of(content));
}

TEST_F(FetchTest, ReadonlyRootHitMakesNoRequestAndWritesNothing) {
  const std::string content = pseudo_random_bytes(4000, 14);
  const std::string path = serve("ro.pth", content);
  write_bytes(tmp_ / "shared/ro.pth", content);
  const auto before = listing(tmp_ / "shared");
  const cache::Cache cache(cache::CacheOptions{cache_dir(), {tmp_ / "shared"}});
  for (int i = 0; i < 2; ++i) {
    const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache, fast_options());
    EXPECT_FALSE(r.downloaded);
    EXPECT_EQ(r.path, tmp_ / "shared/ro.pth");
  }
  EXPECT_EQ(listing(tmp_ / "shared"), before);
  EXPECT_FALSE(fs::exists(cache_dir()));
  EXPECT_EQ(srv().request_count(path), 0u);
}

TEST_F(FetchTest, ProgressIsReportedUpToTheTotal) {
  const std::string content = pseudo_random_bytes(40000, 15);
  const std::string path = serve("progress.pth", content);
  auto o = fast_options();
  std::vector<fetch::Progress> seen;
  o.on_progress = [&](const fetch::Progress& p) { seen.push_back(p); };
  fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, o);
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].bytes, seen[i - 1].bytes);
  EXPECT_EQ(seen.back().bytes, content.size());
  ASSERT_TRUE(seen.back().total.has_value());
  EXPECT_EQ(*seen.back().total, content.size());
  EXPECT_GT(seen.back().bytes_per_second, 0.0);
  EXPECT_EQ(seen.back().url, srv().http_url() + path);
  for (const auto& p : seen) EXPECT_FALSE(p.waiting);
}

TEST_F(FetchTest, ProgressTotalComesFromContentLengthWhenNoSizeIsExpected) {
  // Throttled, so that several reports arrive before the end.
  const std::string content = pseudo_random_bytes(40000, 17);
  const std::string path = "/slow" + serve("cl.pth", content);
  auto req = request(srv().http_url() + path, content);
  req.expect.size.reset();
  auto o = fast_options();
  std::vector<fetch::Progress> seen;
  o.on_progress = [&](const fetch::Progress& p) { seen.push_back(p); };
  fetch::fetch_to_cache(req, cache_, o);
  ASSERT_GE(seen.size(), 3u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    ASSERT_TRUE(seen[i].total.has_value()) << i;
    EXPECT_EQ(*seen[i].total, content.size()) << i;
    EXPECT_LE(seen[i].bytes, content.size());
    EXPECT_GT(seen[i].bytes_per_second, 0.0) << i;
    if (i > 0) {
      EXPECT_GE(seen[i].bytes, seen[i - 1].bytes);
    }
  }
  EXPECT_LT(seen.front().bytes, content.size());
  EXPECT_EQ(seen.back().bytes, content.size());
}

TEST_F(FetchTest, CreatedFilesHonourTheUmask) {
  const std::string content = "umask";
  const std::string path = serve("mode.pth", content);
  const mode_t old = ::umask(027);
  fetch::FetchResult r;
  try {
    r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, fast_options());
  } catch (...) {
    ::umask(old);
    throw;
  }
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(r.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(FetchTest, FileNameComesFromTheUrlUnlessGiven) {
  const std::string content = "named";
  const std::string path = serve("from-url.pth", content);
  auto req = request(srv().http_url() + path + "?download=1", content);
  EXPECT_EQ(fetch::fetch_to_cache(req, cache_, fast_options()).path, cache_dir() / "from-url.pth");
  req.file_name = "explicit.pth";
  EXPECT_EQ(fetch::fetch_to_cache(req, cache_, fast_options()).path, cache_dir() / "explicit.pth");
  req.file_name = "../escape.pth";
  EXPECT_THROW(fetch::fetch_to_cache(req, cache_, fast_options()), CacheError);
  req.file_name.clear();
  req.url = srv().http_url() + "/";
  EXPECT_THROW(fetch::fetch_to_cache(req, cache_, fast_options()), FetchError);
}

TEST_F(FetchTest, UnsupportedSchemeIsRefused) {
  try {
    fetch::fetch_to_cache(request("ftp://127.0.0.1/x.pth", "x"), cache_, fast_options());
    FAIL() << "expected FetchError";
  } catch (const FetchError& e) {
    EXPECT_TRUE(contains(e.what(), "ftp://127.0.0.1/x.pth")) << e.what();
    EXPECT_TRUE(contains(e.what(), "http://, https:// or file://")) << e.what();
  }
}

}  // namespace
