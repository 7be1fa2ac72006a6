// cache_tool fetch against the loopback nginx: parallel downloads, progress
// output, JSON results, list files, mirrors, offline mode, and one failure
// not losing the others.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CacheToolFetch, DownloadsSeveralInParallelAndReportsJson) {
  Sandbox sb;
  std::vector<Served> served;
  for (int i = 0; i < 6; ++i) served.push_back(sb.serve("par" + std::to_string(i), "V1", random_bytes(200000 + i, 10 + i)));
  std::vector<std::string> args = {"--json", "fetch", "--jobs", "4"};
  for (const auto& s : served) args.push_back(s.model);
  const ToolRun r = sb.tool(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_EQ(d["command"], "fetch");
  EXPECT_EQ(d["ok"], true);
  EXPECT_EQ(d["summary"]["requested"], 6);
  EXPECT_EQ(d["summary"]["downloaded"], 6);
  EXPECT_EQ(d["summary"]["failed"], 0);
  ASSERT_EQ(d["results"].size(), 6u);
  for (std::size_t i = 0; i < served.size(); ++i) {
    const json& res = d["results"][i];
    EXPECT_EQ(res["model"], served[i].model);
    EXPECT_EQ(res["tag"], "V1");
    EXPECT_EQ(res["status"], "downloaded");
    EXPECT_EQ(res["sha256"], served[i].sha256);
    EXPECT_EQ(res["bytes"], served[i].bytes.size());
    EXPECT_EQ(res["url"], served[i].url);
    EXPECT_EQ(read_file(res["path"].get<std::string>()), served[i].bytes);
    EXPECT_EQ(server().request_count(served[i].server_path()), 1u);
  }
  // Plain progress lines on a non-terminal stderr.
  EXPECT_THAT(r.err, HasSubstr("fetching par0:V1"));
  EXPECT_THAT(r.err, Not(HasSubstr("\x1b[")));

  // Second run: everything is a cache hit, no request.
  const ToolRun again = sb.tool({"fetch", "par0", "par1"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("cached   par0:V1"));
  EXPECT_THAT(again.out, HasSubstr("0 downloaded"));
  EXPECT_THAT(again.out, HasSubstr("2 already cached"));
  EXPECT_EQ(server().request_count(served[0].server_path()), 1u);
}

TEST(CacheToolFetch, OneFailureDoesNotLoseTheOthers) {
  Sandbox sb;
  const Served good1 = sb.serve("ok_one", "V1", random_bytes(50000, 21));
  const Served good2 = sb.serve("ok_two", "V1", random_bytes(60000, 22));
  // A 404, a hash mismatch, and an unknown model in the same run.
  sb.add_entry("gone", "V1", server().http_url() + "/status/404/gone.pth", std::string(64, 'a'), 10, "gone-aaaa.pth");
  const std::string wrong = random_bytes(3000, 23);
  server().write_file("ct/wrong.pth", wrong);
  sb.add_entry("wrong", "V1", server().http_url() + "/ct/wrong.pth", sha256_hex("something else"), wrong.size(),
               "wrong-0000.pth");
  const ToolRun r = sb.tool({"--json", "fetch", "ok_one", "gone", "wrong", "no_such_model", "ok_two"});
  EXPECT_EQ(r.exit_code, 1);
  const json d = r.doc();
  EXPECT_EQ(d["ok"], false);
  EXPECT_EQ(d["summary"]["downloaded"], 2);
  EXPECT_EQ(d["summary"]["failed"], 3);
  std::map<std::string, json> by_spec;
  for (const auto& res : d["results"]) by_spec[res["spec"].get<std::string>()] = res;
  EXPECT_EQ(by_spec["ok_one"]["status"], "downloaded");
  EXPECT_EQ(by_spec["ok_two"]["status"], "downloaded");
  EXPECT_THAT(by_spec["gone"]["error"].get<std::string>(), HasSubstr("HTTP 404"));
  EXPECT_THAT(by_spec["wrong"]["error"].get<std::string>(), HasSubstr("sha256 mismatch"));
  EXPECT_THAT(by_spec["wrong"]["error"].get<std::string>(), HasSubstr(sha256_hex(wrong)));
  EXPECT_THAT(by_spec["no_such_model"]["error"].get<std::string>(), HasSubstr("unknown model"));
  EXPECT_EQ(read_file(sb.cache() / good1.file_name), good1.bytes);
  EXPECT_EQ(read_file(sb.cache() / good2.file_name), good2.bytes);
  EXPECT_FALSE(fs::exists(sb.cache() / "wrong-0000.pth")) << "nothing unverified reaches a cache name";
  // Human output names each failure on stderr and sums up on stdout.
  const ToolRun text = sb.tool({"fetch", "gone", "ok_one"});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_THAT(text.err, HasSubstr("FAILED   gone:V1"));
  EXPECT_THAT(text.out, HasSubstr("1 already cached, 1 failed"));
}

TEST(CacheToolFetch, FromFileAllTagsAndDuplicates) {
  Sandbox sb;
  const Served a1 = sb.serve("multi", "A", random_bytes(1000, 31));
  const Served a2 = sb.serve("multi", "B", random_bytes(1100, 32));
  const Served c = sb.serve("listed", "V1", random_bytes(1200, 33));
  write_file(sb.dir() / "models.txt", "# weights for the cluster\n\nlisted   # the small one\nmulti:*\nlisted:V1\n");
  const ToolRun r = sb.tool({"--json", "fetch", "--from-file", (sb.dir() / "models.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_EQ(d["summary"]["requested"], 3) << "listed and listed:V1 are the same entry";
  EXPECT_TRUE(fs::exists(sb.cache() / a1.file_name));
  EXPECT_TRUE(fs::exists(sb.cache() / a2.file_name));
  EXPECT_TRUE(fs::exists(sb.cache() / c.file_name));

  const ToolRun missing = sb.tool({"fetch", "--from-file", (sb.dir() / "nope.txt").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.txt"));
}

TEST(CacheToolFetch, MirrorIsTriedFirst) {
  Sandbox sb;
  const std::string bytes = random_bytes(4000, 41);
  const std::string name = "mirrored-" + sha256_hex(bytes).substr(0, 8) + ".pth";
  server().write_file("mirror/" + name, bytes);
  // The entry's own URL would fail; the mirror has the file.
  sb.add_entry("mirrored", "V1", server().http_url() + "/status/404/" + name, sha256_hex(bytes), bytes.size());
  const ToolRun r = sb.tool({"--mirror", server().http_url() + "/mirror", "--json", "fetch", "mirrored"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["results"][0]["url"], server().http_url() + "/mirror/" + name);
  EXPECT_EQ(server().request_count("/mirror/" + name), 1u);
  EXPECT_EQ(server().request_count("/status/404/" + name), 0u);
}

TEST(CacheToolFetch, ResumedDownloadReportsTheBytesOfThisRun) {
  Sandbox sb;
  const Served whole = sb.serve("resumable", "V1", random_bytes(300000, 61));
  // The same file behind a location that cuts the first answer after 100000 bytes.
  sb.add_entry("resumable_cut", "V1", server().http_url() + "/truncate/1/100000" + whole.server_path(), whole.sha256,
               whole.bytes.size());
  const ToolRun first = sb.tool({"fetch", "--retries", "0", "resumable_cut"});
  EXPECT_EQ(first.exit_code, 1);
  EXPECT_THAT(first.err, HasSubstr("gave up after 1 attempt"));
  const ToolRun again = sb.tool({"--json", "fetch", "resumable_cut"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const json res = again.doc()["results"][0];
  EXPECT_EQ(res["status"], "downloaded");
  EXPECT_EQ(res["resumed"], true);
  EXPECT_EQ(res["published_kept_part"], false);
  EXPECT_EQ(res["bytes"], 300000);
  EXPECT_EQ(res["bytes_reused"], 100000);
  EXPECT_EQ(res["bytes_transferred"], 200000);
  EXPECT_EQ(again.doc()["summary"]["bytes_downloaded"], 200000);  // this run's bytes, not the file's
  EXPECT_EQ(again.doc()["summary"]["resumed"], 1);
  EXPECT_THAT(again.err, HasSubstr("resumed, 97.7 KiB kept from an earlier run, 195.3 KiB transferred"));
}

TEST(CacheToolFetch, ConnectionsTimeoutAndRetriesAreChecked) {
  Sandbox sb;
  const Served big = sb.serve("whole", "V1", random_bytes(9 << 20, 62));
  // Capped per connection, so both ranges are in flight at once.
  const std::string capped = "/rate/8m" + big.server_path();
  sb.add_entry("split", "V1", server().http_url() + capped, big.sha256, big.bytes.size());
  const ToolRun r = sb.tool({"--json", "fetch", "--connections", "2", "--timeout", "20", "--retries", "1", "split"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["results"][0]["connections"], 2);
  EXPECT_EQ(r.doc()["results"][0]["bytes_transferred"], 9 << 20);
  EXPECT_EQ(server().request_count(capped), 2u);  // two ranges
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--connections", "17"}, {"--connections", "0"},
                                                                {"--timeout", "0"}, {"--retries", "-1"}}) {
    const ToolRun u = sb.tool({"fetch", bad[0], bad[1], "split"});
    EXPECT_EQ(u.exit_code, 2) << bad[0] << " " << bad[1];
    EXPECT_THAT(u.err, HasSubstr(bad[0]));
  }
  // A silent server is given up on after --retries + 1 attempts of --timeout seconds each.
  const Served quiet = sb.serve("silent", "V1", random_bytes(3000, 65));
  const std::string stall = "/stall/9/0" + quiet.server_path();
  sb.add_entry("silent_stall", "V1", server().http_url() + stall, quiet.sha256, quiet.bytes.size());
  const ToolRun stalled = sb.tool({"fetch", "--timeout", "1", "--retries", "1", "silent_stall"});
  EXPECT_EQ(stalled.exit_code, 1);
  EXPECT_THAT(stalled.err, HasSubstr("gave up after 2 attempts"));
  EXPECT_EQ(server().backend_hits(stall), 2);
  const ToolRun env_bad = sb.tool({"fetch", "split"}, {{"MODELZOO_CONNECTIONS", "many"}});
  EXPECT_NE(env_bad.exit_code, 0);
  EXPECT_THAT(env_bad.err, HasSubstr("MODELZOO_CONNECTIONS"));
}

TEST(CacheToolFetch, MirrorServingACorruptFileIsAWarning) {
  Sandbox sb;
  const Served good = sb.serve("warned", "V1", random_bytes(5000, 63));
  server().write_file("badmirror/" + good.file_name, random_bytes(5000, 64));
  const ToolRun r = sb.tool({"--mirror", server().http_url() + "/badmirror", "--json", "fetch", "warned"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json res = r.doc()["results"][0];
  EXPECT_EQ(res["url"], good.url);
  ASSERT_EQ(res["warnings"].size(), 1u);
  EXPECT_THAT(res["warnings"][0].get<std::string>(), HasSubstr("sha256 mismatch"));
  EXPECT_THAT(r.err, HasSubstr("warning  warned:V1: skipped a source"));
  EXPECT_THAT(r.err, HasSubstr(server().http_url() + "/badmirror/" + good.file_name));
  EXPECT_EQ(r.doc()["summary"]["with_warnings"], 1);
}

TEST(CacheToolFetch, OfflineTouchesNoNetworkAndAllCoversTheRegistry) {
  Sandbox sb;
  const Served a = sb.serve("offl", "V1", random_bytes(2000, 51));
  const ToolRun off = sb.tool({"--offline", "fetch", "offl"});
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_THAT(off.err, HasSubstr("offline mode (--offline)"));  // names what the user typed
  EXPECT_EQ(server().request_count(a.server_path()), 0u);
  const ToolRun env_off = sb.tool({"fetch", "offl"}, {{"MODELZOO_OFFLINE", "1"}});
  EXPECT_EQ(env_off.exit_code, 1);
  EXPECT_THAT(env_off.err, HasSubstr("offline mode (MODELZOO_OFFLINE)"));
  // MODELZOO_OFFLINE works the same; --all lists every model's default weights,
  // and cached ones succeed even offline.
  ASSERT_EQ(sb.tool({"fetch", "offl"}).exit_code, 0);
  const ToolRun all = sb.tool({"--json", "fetch", "--all"}, {{"MODELZOO_OFFLINE", "1"}});
  EXPECT_EQ(all.exit_code, 1);
  const json d = all.doc();
  EXPECT_GT(d["summary"]["requested"].get<int>(), 80) << "every built-in model plus the user's";
  EXPECT_EQ(d["summary"]["cached"], 1);
  EXPECT_EQ(d["summary"]["failed"].get<int>(), d["summary"]["requested"].get<int>() - 1);
  EXPECT_EQ(server().request_count(a.server_path()), 1u);
}

TEST(CacheToolFetch, ProgressBarsWhenAsked) {
  Sandbox sb;
  // Served slowly so that the bar is drawn at least once before the end.
  const std::string bytes = random_bytes(64 * 1024, 61);
  server().write_file("ct/slowbar.pth", bytes);
  sb.add_entry("slowbar", "V1", server().http_url() + "/slow/ct/slowbar.pth", sha256_hex(bytes), bytes.size());
  const ToolRun r = sb.tool({"fetch", "--progress", "bar", "slowbar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("\x1b[2K"));   // a bar line drawn in place
  EXPECT_THAT(r.err, HasSubstr("slowbar:V1"));
  EXPECT_THAT(r.err, HasSubstr("/64.0 KiB"));  // bar shows progress against the known size
  EXPECT_THAT(r.err, HasSubstr("fetched  slowbar:V1"));
  const ToolRun quiet = sb.tool({"--quiet", "fetch", "slowbar"});
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(sb.tool({"fetch", "--progress", "sparkles", "slowbar"}).exit_code, 2);
}

TEST(CacheToolFetch, SecondProcessWaitsForTheFirstAndSaysSo) {
  Sandbox sb;
  const std::string bytes = random_bytes(64 * 1024, 62);
  server().write_file("ct/slowwait.pth", bytes);
  const std::string path = "/slow/ct/slowwait.pth";
  sb.add_entry("slowwait", "V1", server().http_url() + path, sha256_hex(bytes), bytes.size());
  ToolRun first, second;
  std::thread a([&] { first = sb.tool({"fetch", "--progress", "plain", "slowwait"}); });
  // Start the second once the first is downloading (32 KiB/s: about two seconds).
  const fs::path part = sb.cache() / "slowwait.pth.part";
  for (int i = 0; i < 3000 && !fs::exists(part); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(part)) << "the first download did not start";
  std::thread b([&] { second = sb.tool({"fetch", "--progress", "plain", "slowwait"}); });
  a.join();
  b.join();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(first.err, HasSubstr("fetched  slowwait:V1"));
  EXPECT_THAT(second.err, HasSubstr("waiting  slowwait:V1: another process is downloading it"));
  EXPECT_THAT(second.err, HasSubstr("cached   slowwait:V1"));
  EXPECT_EQ(server().request_count(path), 1u);
  EXPECT_EQ(read_file(sb.cache() / "slowwait.pth"), bytes);
}

}  // namespace
}  // namespace ct_test
