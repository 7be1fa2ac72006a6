// Parallel ranged downloads: a file split over several connections through
// nginx's per-connection cap (limit_rate), kill -9 at several points and a
// rerun, a file replaced on the server mid-download, servers that ignore
// Range or answer it wrongly, a range answered 500 or cut short. Every case
// ends with the verified file or a clear error, never a file stitched from
// two versions.
#include <algorithm>
#include <nlohmann/json.hpp>

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

/// [first, last] of a "bytes=first-last" Range header.
std::pair<uint64_t, uint64_t> range_of(const std::string& header) {
  const auto dash = header.find('-');
  return {std::stoull(header.substr(6, dash - 6)), std::stoull(header.substr(dash + 1))};
}

/// The ranges of the 206 answers tile [0, size) exactly once, and their
/// bodies were sent in full.
void expect_ranges_cover_exactly_once(std::vector<mz_test::AccessLogEntry> log, uint64_t size) {
  log.erase(std::remove_if(log.begin(), log.end(), [](const auto& e) { return e.status != 206; }), log.end());
  std::sort(log.begin(), log.end(),
            [](const auto& a, const auto& b) { return range_of(a.range).first < range_of(b.range).first; });
  uint64_t at = 0;
  for (const auto& e : log) {
    const auto [first, last] = range_of(e.range);
    EXPECT_EQ(first, at) << e.range;
    EXPECT_EQ(e.body_bytes, last + 1 - first) << e.range;
    at = last + 1;
  }
  EXPECT_EQ(at, size);
}

uint64_t bytes_served(const std::vector<mz_test::AccessLogEntry>& log) {
  uint64_t n = 0;
  for (const auto& e : log) n += e.body_bytes;
  return n;
}

/// Completed bytes according to a ranged download's record, 0 when unreadable.
uint64_t recorded_bytes(const fs::path& meta) {
  std::ifstream in(meta);
  if (!in) return 0;
  try {
    const auto j = nlohmann::json::parse(in);
    uint64_t n = 0;
    for (const auto& r : j.at("ranges")) n += r.at(2).get<uint64_t>();
    return n;
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
}

class RangedTest : public FetchTest {
 protected:
  /// Four connections, ranges of at least 1 MiB (so files of a few MiB split).
  fetch::FetchOptions ranged_options() const {
    auto o = fast_options();
    o.connections = 4;
    o.min_range_bytes = 1 << 20;
    o.fast_connection_bytes_per_second = 0;  // parallel however fast loopback is
    return o;
  }
};

TEST_F(RangedTest, AFastFirstConnectionKeepsTheRangesOnOneConnection) {
  // A first connection faster than fast_connection_bytes_per_second (here
  // 32 MiB/s, which unthrottled loopback exceeds many times over) keeps the
  // ranges on it, one after another, each asked for once.
  const std::string content = pseudo_random_bytes(16u << 20, 90);
  const std::string rel = serve("fast.pth", content).substr(1);
  auto o = fast_options();
  o.connections = 4;
  o.min_range_bytes = 1 << 20;
  o.fast_connection_bytes_per_second = 32.0 * (1 << 20);
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + "/" + rel, content), cache_, o);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.connections, 1);
  EXPECT_EQ(r.bytes_transferred, content.size());
  const auto log = srv().requests("/" + rel);
  ASSERT_EQ(log.size(), 4u);
  expect_ranges_cover_exactly_once(log, content.size());
  // Behind a cap of 16 MB/s per connection the same file goes over all four at once.
  const std::string slow = "/rate/16m/" + serve("slow.pth", content).substr(1);
  const auto s = fetch::fetch_to_cache(request(srv().http_url() + slow, content), cache_, o);
  EXPECT_EQ(s.sha256, digest_of(content));
  EXPECT_EQ(s.connections, 4);
  expect_ranges_cover_exactly_once(srv().requests(slow), content.size());
  expect_only_verified_files({{"fast.pth", content}, {"slow.pth", content}});
}

TEST_F(RangedTest, SixtyFourMegabytesOverFourRateLimitedConnectionsAreFetchedOnceEach) {
  const std::string content = pseudo_random_bytes(64u << 20, 91);
  const std::string rel = serve("big.pth", content).substr(1);
  // nginx caps each connection at 16 MB/s: one connection would take 4 s, four take 1 s.
  const std::string path = "/rate/16m/" + rel;
  auto o = fast_options();
  o.connections = 4;
  std::vector<fetch::Progress> seen;
  o.on_progress = [&](const fetch::Progress& p) { seen.push_back(p); };
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.connections, 4);
  EXPECT_EQ(r.bytes_transferred, content.size());
  EXPECT_FALSE(r.resumed);
  EXPECT_TRUE(read_bytes(r.path) == content);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 4u);
  for (const auto& e : log) {
    EXPECT_EQ(e.status, 206) << e.range;
    EXPECT_EQ(e.range.rfind("bytes=", 0), 0u) << e.range;
  }
  expect_ranges_cover_exactly_once(log, content.size());
  // Every range after the first carries If-Range, so no two versions mix.
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const auto& e) { return !e.if_range.empty(); }), 3);
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].bytes, seen[i - 1].bytes);
  EXPECT_EQ(seen.back().bytes, content.size());
  EXPECT_EQ(seen.back().total, std::optional<uint64_t>(content.size()));
  expect_only_verified_files({{"big.pth", content}});
}

TEST_F(RangedTest, SizeNotKnownInAdvanceIsLearnedFromTheFirstAnswer) {
  const std::string content = pseudo_random_bytes(6u << 20, 92);
  // Capped per connection, so the first answer is dropped after few bytes.
  const std::string path = "/rate/4m" + serve("nosize.pth", content);
  auto req = request(srv().http_url() + path, content);
  req.expect.size.reset();
  const auto r = fetch::fetch_to_cache(req, cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.connections, 4);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0].range, "");  // the plain request whose headers announced the size; dropped
  EXPECT_LT(log[0].body_bytes, content.size());
  expect_ranges_cover_exactly_once({log.begin() + 1, log.end()}, content.size());
  expect_only_verified_files({{"nosize.pth", content}});
}

TEST_F(RangedTest, KilledAtSeveralPointsThenARerunCompletesWithoutFetchingMuchTwice) {
  const std::string content = pseudo_random_bytes(32u << 20, 93);
  const std::string rel = serve("killed.pth", content).substr(1);
  const std::string path = "/rate/4m/" + rel;  // 16 MB/s over four connections: about 2 s in all
  const std::string url = srv().http_url() + path;
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_CONNECTIONS"] = "4";
  const fs::path meta = cache_dir() / "killed.pth.part.meta";
  for (const uint64_t at : {uint64_t{3} << 20, uint64_t{12} << 20, uint64_t{24} << 20}) {
    const pid_t child = spawn_child(env, (tmp_ / "child.out").string());
    ASSERT_GT(child, 0);
    const bool reached = wait_for([&] { return recorded_bytes(meta) >= at; }, 60);
    kill_and_reap(child);
    ASSERT_TRUE(reached) << "the child never recorded " << at << " bytes";
    EXPECT_FALSE(fs::exists(cache_dir() / "killed.pth"));
    EXPECT_EQ(size_or_zero(cache_dir() / "killed.pth.part"), content.size());  // full size from the start
    expect_only_verified_files({});
  }
  auto o = fast_options();
  o.connections = 4;
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, o);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_TRUE(read_bytes(r.path) == content);
  EXPECT_TRUE(r.resumed);
  EXPECT_GE(r.bytes_reused, uint64_t{24} << 20);
  EXPECT_EQ(r.bytes_reused + r.bytes_transferred, content.size());
  // What the server sent over the four runs stays close to one copy of the file.
  const uint64_t served = bytes_served(srv().requests(path));
  EXPECT_LT(served, content.size() * 13 / 10) << served << " bytes served for a file of " << content.size();
  EXPECT_FALSE(fs::exists(meta));
  expect_only_verified_files({{"killed.pth", content}});
}

TEST_F(RangedTest, ASecondProcessWaitsAndSeesTheRangesProgress) {
  const std::string content = pseudo_random_bytes(8u << 20, 102);
  const std::string rel = serve("shared.pth", content).substr(1);
  const std::string path = "/rate/2m/" + rel;  // 8 MB/s over four connections: about a second
  const std::string url = srv().http_url() + path;
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_CONNECTIONS"] = "4";
  env["MZ_FETCH_CHILD_MIN_RANGE"] = std::to_string(1 << 20);
  const pid_t child = spawn_child(env, (tmp_ / "child.out").string());
  ASSERT_GT(child, 0);
  // The child holds the lock once its record exists.
  ASSERT_TRUE(wait_for([&] { return fs::exists(cache_dir() / "shared.pth.part.meta"); }, 60));
  auto o = ranged_options();
  std::vector<fetch::Progress> waiting;
  o.on_progress = [&](const fetch::Progress& p) {
    if (p.waiting) waiting.push_back(p);
  };
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, o);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(r.downloaded);  // the child's download, found after the wait
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(srv().request_count(path), 4u);  // one download, four ranges
  // The waiter's progress is the completed bytes of the record, not the
  // partial file's size (which is the full size from the start).
  ASSERT_GE(waiting.size(), 2u);
  EXPECT_TRUE(std::any_of(waiting.begin(), waiting.end(),
                          [&](const auto& p) { return p.bytes > 0 && p.bytes < content.size(); }));
  for (std::size_t i = 1; i < waiting.size(); ++i) EXPECT_GE(waiting[i].bytes, waiting[i - 1].bytes);
  EXPECT_EQ(waiting.back().bytes, content.size());
  expect_only_verified_files({{"shared.pth", content}});
}

TEST_F(RangedTest, ResumedWithMoreConnectionsFreeConnectionsTakeHalfOfTheLargestRanges) {
  // Two ranges of 10 MiB, interrupted early; the rerun has four connections:
  // the two free ones each take the second half of a range (halves of at
  // least 4 × min_range_bytes).
  const std::string content = pseudo_random_bytes(20u << 20, 104);
  const std::string rel = serve("grow.pth", content).substr(1);
  const std::string path = "/rate/8m/" + rel;
  const std::string url = srv().http_url() + path;
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_CONNECTIONS"] = "2";
  env["MZ_FETCH_CHILD_MIN_RANGE"] = std::to_string(1 << 20);
  const fs::path meta = cache_dir() / "grow.pth.part.meta";
  const pid_t child = spawn_child(env, (tmp_ / "child.out").string());
  ASSERT_GT(child, 0);
  const bool reached = wait_for([&] { return recorded_bytes(meta) >= (uint64_t{1} << 20); }, 60);
  kill_and_reap(child);
  ASSERT_TRUE(reached);
  const std::size_t before = srv().requests(path).size();
  EXPECT_EQ(before, 2u);

  const auto r = fetch::fetch_to_cache(request(url, content), cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.connections, 4);
  EXPECT_EQ(r.bytes_reused + r.bytes_transferred, content.size());  // nothing fetched twice
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), before + 4);
  // The two shortened requests stop where the stolen halves begin.
  uint64_t asked = 0;
  for (std::size_t i = before; i < log.size(); ++i) {
    const auto [first, last] = range_of(log[i].range);
    asked += last + 1 - first;
  }
  EXPECT_GT(asked, r.bytes_transferred);  // the first two asked for their whole tails
  expect_only_verified_files({{"grow.pth", content}});
}

TEST_F(RangedTest, KilledAfterTheLastRangeThenARerunPublishesWithoutARequest) {
  const std::string content = pseudo_random_bytes(4u << 20, 94);
  const std::string path = serve("done.pth", content);
  const std::string url = srv().http_url() + path;
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_CONNECTIONS"] = "4";
  env["MZ_FETCH_CHILD_MIN_RANGE"] = std::to_string(1 << 20);
  const fs::path pause = tmp_ / "paused";
  env["MZ_FETCH_CHILD_PAUSE_FILE"] = pause.string();
  const pid_t child = spawn_child(env, (tmp_ / "child.out").string());
  ASSERT_GT(child, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(pause); }, 60));
  kill_and_reap(child);
  const std::size_t requests = srv().request_count(path);
  EXPECT_EQ(requests, 4u);

  auto o = ranged_options();
  const auto r = fetch::fetch_to_cache(request(url, content), cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_TRUE(r.published_kept_part);
  EXPECT_FALSE(r.resumed);
  EXPECT_EQ(r.bytes_transferred, 0u);
  EXPECT_EQ(r.bytes_reused, content.size());
  EXPECT_EQ(srv().request_count(path), requests);  // no request
  expect_only_verified_files({{"done.pth", content}});
}

TEST_F(RangedTest, FileReplacedOnTheServerMidDownloadStartsOverAndIsNeverStitched) {
  const std::string old_content = pseudo_random_bytes(8u << 20, 95);
  const std::string new_content = pseudo_random_bytes((9u << 20) + 123, 96);
  const std::string path = serve("moving.pth", old_content);
  const fs::path served = srv().docroot() / path.substr(1);
  auto o = ranged_options();
  bool replaced = false;
  std::string old_etag_seen;
  o.on_progress = [&](const fetch::Progress& p) {
    if (replaced || p.bytes == 0) return;
    // The first range is arriving; the others have not been asked for yet.
    replaced = true;
    const fs::path tmp = served.string() + ".new";
    { std::ofstream(tmp, std::ios::binary) << new_content; }
    fs::rename(tmp, served);
  };
  auto req = request(srv().http_url() + path, new_content);
  req.expect.size.reset();  // the size comes from the server, first the old one
  const auto r = fetch::fetch_to_cache(req, cache_, o);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(r.sha256, digest_of(new_content));
  EXPECT_TRUE(read_bytes(r.path) == new_content);
  // A range asked for with the old version's validator got the whole new
  // file (HTTP 200): the download started over instead of mixing versions.
  const auto log = srv().requests(path);
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const auto& e) { return e.status == 200 && !e.if_range.empty(); }));
  expect_only_verified_files({{"moving.pth", new_content}});
}

TEST_F(RangedTest, ServerThatIgnoresRangeFallsBackToOneConnection) {
  const std::string content = pseudo_random_bytes(6u << 20, 97);
  const std::string rel = serve("norange.pth", content).substr(1);
  const std::string path = "/norange/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.connections, 1);
  const auto log = srv().requests(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 200);  // the probe: a range asked for, the whole file answered
  EXPECT_NE(log[0].range, "");
  EXPECT_EQ(log[1].status, 200);  // then one plain request
  EXPECT_EQ(log[1].range, "");
  EXPECT_EQ(log[1].body_bytes, content.size());
  expect_only_verified_files({{"norange.pth", content}});
}

TEST_F(RangedTest, RangeAnswered500TwiceIsRetriedThen206) {
  const std::string content = pseudo_random_bytes(6u << 20, 98);
  const std::string rel = serve("busy.pth", content).substr(1);
  const std::string path = "/ranged/500/2/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  const auto log = srv().backend_requests(path);
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const auto& e) { return e.status == 500; }), 2);
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const auto& e) { return e.status == 206; }), 4);
  expect_ranges_cover_exactly_once(log, content.size());
  expect_only_verified_files({{"busy.pth", content}});
}

TEST_F(RangedTest, TruncatedRangeIsResumedWhereItStopped) {
  const std::string content = pseudo_random_bytes(6u << 20, 99);
  const std::string rel = serve("cut.pth", content).substr(1);
  const std::string path = "/ranged/cut/1/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.bytes_transferred, content.size());  // nothing fetched twice
  const auto log = srv().backend_requests(path);
  ASSERT_EQ(log.size(), 5u);
  // The cut range: half of it arrived, the retry asks for the other half only.
  uint64_t cut_first = 0, cut_last = 0, cut_sent = 0;
  for (const auto& e : log) {
    const auto [first, last] = range_of(e.range);
    if (e.body_bytes < last + 1 - first) std::tie(cut_first, cut_last, cut_sent) = std::tuple(first, last, e.body_bytes);
  }
  ASSERT_GT(cut_first, 0u);
  EXPECT_EQ(cut_sent, (cut_last + 1 - cut_first) / 2);
  const std::string retry = "bytes=" + std::to_string(cut_first + cut_sent) + "-" + std::to_string(cut_last);
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [&](const auto& e) { return e.range == retry && e.status == 206; }))
      << retry;
  EXPECT_EQ(bytes_served(log), content.size());
  expect_only_verified_files({{"cut.pth", content}});
}

TEST_F(RangedTest, WrongContentRangeFallsBackToOneConnection) {
  const std::string content = pseudo_random_bytes(6u << 20, 100);
  const std::string rel = serve("liar.pth", content).substr(1);
  const std::string path = "/ranged/badrange/1/" + rel;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, ranged_options());
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_TRUE(read_bytes(r.path) == content);
  const auto log = srv().backend_requests(path);
  // The last request is the plain one the download fell back to.
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().range, "");
  EXPECT_EQ(log.back().status, 200);
  EXPECT_EQ(log.back().body_bytes, content.size());
  expect_only_verified_files({{"liar.pth", content}});
}

TEST_F(RangedTest, DiskFullShowsBeforeTheRangesStart) {
  const std::string content = pseudo_random_bytes(4u << 20, 101);
  const std::string path = serve("full.pth", content);
  const std::string url = srv().http_url() + path;
  auto env = child_env(url, content);
  env["MZ_FETCH_CHILD_CONNECTIONS"] = "4";
  env["MZ_FETCH_CHILD_MIN_RANGE"] = std::to_string(1 << 20);
  const fs::path err_file = tmp_ / "child.err";
  const pid_t child = spawn_child(env, err_file.string(), /*file_size_limit=*/1 << 20);
  ASSERT_GT(child, 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  const std::string msg = read_bytes(err_file);
  EXPECT_TRUE(contains(msg, "cannot write " + (cache_dir() / "full.pth.part").string())) << msg;
  EXPECT_TRUE(contains(msg, "no space to store the download")) << msg;
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_FALSE(fs::exists(cache_dir() / "full.pth.part"));
  EXPECT_FALSE(fs::exists(cache_dir() / "full.pth.part.meta"));
  EXPECT_EQ(srv().request_count(path), 1u);  // the probe only
  expect_only_verified_files({});
}

TEST_F(RangedTest, PrivatePartialsOnNetworkFilesystemsKeepNoRecord) {
  // Where flock cannot be trusted the ranges go into a file private to the
  // process; a cut range is still resumed within the call.
  const std::string content = pseudo_random_bytes(6u << 20, 103);
  const std::string rel = serve("private.pth", content).substr(1);
  const std::string path = "/ranged/cut/1/" + rel;
  auto o = ranged_options();
  o.private_partials = true;
  const auto r = fetch::fetch_to_cache(request(srv().http_url() + path, content), cache_, o);
  EXPECT_EQ(r.sha256, digest_of(content));
  EXPECT_EQ(r.bytes_transferred, content.size());
  EXPECT_GE(r.connections, 2);
  for (const auto& name : mz_cache_test::listing(cache_dir())) {
    EXPECT_TRUE(name == "private.pth" || name == "private.pth.lock" || name == "private.pth.mzstamp") << name;
  }
}

TEST_F(RangedTest, ConnectionsAndTimeoutsComeFromTheEnvironment) {
  ::setenv("MODELZOO_CONNECTIONS", "8", 1);
  ::setenv("MODELZOO_TIMEOUT", "7", 1);
  ::setenv("MODELZOO_RETRIES", "0", 1);
  const auto o = fetch::FetchOptions::from_env();
  EXPECT_EQ(o.connections, 8);
  EXPECT_EQ(o.connect_timeout_seconds, 7);
  EXPECT_EQ(o.low_speed_time_seconds, 7);
  EXPECT_EQ(o.max_attempts, 1);
  ::setenv("MODELZOO_CONNECTIONS", "17", 1);
  const std::string msg = fetch_error_of([] { fetch::FetchOptions::from_env(); });
  EXPECT_TRUE(contains(msg, "MODELZOO_CONNECTIONS")) << msg;
  EXPECT_TRUE(contains(msg, "\"17\"")) << msg;
  ::unsetenv("MODELZOO_CONNECTIONS");
  ::unsetenv("MODELZOO_TIMEOUT");
  ::unsetenv("MODELZOO_RETRIES");
}

}  // namespace
