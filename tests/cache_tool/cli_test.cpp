// The command line itself (help, usage errors, exit statuses) and the small
// subcommands: list, path, rm.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kCommands = {"list", "path",   "fetch",   "import", "pack",
                                            "unpack", "verify", "inspect", "rm",     "prune"};

TEST(CacheToolCli, EverySubcommandHasHelpWithAnExample) {
  for (const auto& c : kCommands) {
    const ToolRun r = run_tool({c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_THAT(r.out, HasSubstr("Example: cache_tool")) << c << " --help:\n" << r.out;
  }
  const ToolRun top = run_tool({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const auto& c : kCommands) EXPECT_THAT(top.out, HasSubstr(c));
}

TEST(CacheToolCli, UsageErrorsExitWith2) {
  Sandbox sb;
  EXPECT_EQ(run_tool({}).exit_code, 2) << "a subcommand is required";
  EXPECT_EQ(run_tool({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_tool({"list", "--no-such-option"}).exit_code, 2);
  EXPECT_EQ(sb.tool({"path"}).exit_code, 2) << "path needs NAME";
  EXPECT_EQ(sb.tool({"inspect"}).exit_code, 2);
  EXPECT_EQ(sb.tool({"pack", "vgg19"}).exit_code, 2) << "pack needs -o";
  const ToolRun fetch = sb.tool({"fetch"});
  EXPECT_EQ(fetch.exit_code, 2);
  EXPECT_THAT(fetch.err, HasSubstr("--all or --from-file"));
  const ToolRun prune = sb.tool({"prune"});
  EXPECT_EQ(prune.exit_code, 2);
  EXPECT_THAT(prune.err, HasSubstr("--partials"));
  const ToolRun older = sb.tool({"prune", "--older-than", "soon"});
  EXPECT_EQ(older.exit_code, 2);
  EXPECT_THAT(older.err, HasSubstr("--older-than: expected a duration"));
  const ToolRun size = sb.tool({"prune", "--max-size", "12 parsecs"});
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_THAT(size.err, HasSubstr("--max-size: expected a size"));
  const ToolRun spec = sb.tool({"path", "vgg19:"});
  EXPECT_EQ(spec.exit_code, 2);
  EXPECT_THAT(spec.err, HasSubstr("empty tag"));
  const ToolRun import = sb.tool({"import", "vgg19"});
  EXPECT_EQ(import.exit_code, 2);
  EXPECT_THAT(import.err, HasSubstr("NAME[:TAG] FILE or --dir DIR"));
}

TEST(CacheToolCli, FailuresExitWith1AndNameTheProblem) {
  Sandbox sb;
  const ToolRun unknown = sb.tool({"path", "vgg91"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown model \"vgg91\""));
  EXPECT_THAT(unknown.err, HasSubstr("vgg19"));  // suggestion
  const ToolRun tag = sb.tool({"path", "vgg19:IMAGENET9K"});
  EXPECT_EQ(tag.exit_code, 1);
  EXPECT_THAT(tag.err, HasSubstr("IMAGENET1K_V1"));
  // A broken user registry is a failure that names the file.
  write_file(sb.dir() / "bad.json", R"({"format_version": 1, "models": {"x": {"weights": {"A": {"url": 3}}}}})");
  const ToolRun bad = run_tool({"--cache-dir", sb.cache().string(), "--registry", (sb.dir() / "bad.json").string(), "list"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("bad.json"));
  // With --json a failure is still one JSON document.
  const ToolRun js = sb.tool({"--json", "path", "vgg91"});
  EXPECT_EQ(js.exit_code, 1);
  const json d = js.doc();
  EXPECT_EQ(d["command"], "path");
  EXPECT_EQ(d["ok"], false);
  EXPECT_THAT(d["error"].get<std::string>(), HasSubstr("vgg91"));
}

TEST(CacheToolList, ShowsEveryEntryWithStateAndTotals) {
  Sandbox sb;
  const Served a = sb.serve("tiny_a", "V1", random_bytes(3000, 1));
  const Served b = sb.serve("tiny_b", "V1", random_bytes(5000, 2));
  ASSERT_EQ(sb.tool({"fetch", "tiny_a"}).exit_code, 0);
  // A partial download of b, and a file under c's name that does not match.
  write_file(sb.cache() / (b.file_name + ".part"), b.bytes.substr(0, 100));
  const Served c = sb.serve("tiny_c", "V1", random_bytes(700, 3));
  write_file(sb.cache() / c.file_name, random_bytes(701, 4));  // wrong size: known to mismatch
  const Served e = sb.serve("tiny_e", "V1", random_bytes(800, 6));
  write_file(sb.cache() / e.file_name, random_bytes(800, 8));  // right size, never hashed
  // A read-only cache holding d.
  const Served d = sb.serve("tiny_d", "V1", random_bytes(900, 5));
  write_file(sb.dir() / "ro" / d.file_name, d.bytes);

  const ToolRun r = sb.tool({"--json", "list"}, {{"MODELZOO_READONLY_CACHES", (sb.dir() / "ro").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = r.doc();
  EXPECT_EQ(doc["command"], "list");
  EXPECT_EQ(doc["cache_dir"], sb.cache().string());
  ASSERT_EQ(doc["readonly_roots"].size(), 1u);
  std::map<std::string, json> rows;
  for (const auto& e : doc["entries"]) rows[e["model"].get<std::string>() + ":" + e["tag"].get<std::string>()] = e;
  EXPECT_GT(rows.size(), 100u) << "the built-in registry is listed too";
  EXPECT_EQ(rows["tiny_a:V1"]["state"], "verified");
  EXPECT_EQ(rows["tiny_a:V1"]["size"], 3000);
  EXPECT_EQ(rows["tiny_a:V1"]["hash"], "full");
  EXPECT_EQ(rows["tiny_a:V1"]["sha256"], a.sha256);
  EXPECT_EQ(rows["tiny_a:V1"]["default"], true);
  EXPECT_EQ(rows["tiny_a:V1"]["path"], (sb.cache() / a.file_name).string());
  EXPECT_EQ(rows["tiny_a:V1"]["registry"], sb.registry().string());
  EXPECT_EQ(rows["tiny_b:V1"]["state"], "partial");
  EXPECT_EQ(rows["tiny_c:V1"]["state"], "mismatch");
  EXPECT_EQ(rows["tiny_e:V1"]["state"], "unverified") << "listing does not rehash";
  EXPECT_EQ(rows["tiny_d:V1"]["state"], "unverified");
  EXPECT_EQ(rows["tiny_d:V1"]["readonly"], true);
  EXPECT_EQ(rows["vgg11:IMAGENET1K_V1"]["hash"], "prefix") << "torchvision publishes only hash prefixes";
  EXPECT_EQ(rows["vgg11:IMAGENET1K_V1"]["state"], "absent");
  EXPECT_TRUE(rows["vgg11:IMAGENET1K_V1"]["path"].is_null());
  EXPECT_EQ(rows["vgg11:IMAGENET1K_V1"]["registry"], "built-in");
  const json& t = doc["totals"];
  EXPECT_EQ(t["entries"], doc["entries"].size());
  EXPECT_EQ(t["verified"], 1);
  EXPECT_EQ(t["partial"], 1);
  EXPECT_EQ(t["mismatch"], 1);
  EXPECT_EQ(t["verified_bytes"], 3000);
  EXPECT_EQ(t["absent"].get<std::size_t>() + t["verified"].get<std::size_t>() + t["partial"].get<std::size_t>() +
                t["unverified"].get<std::size_t>() + t["mismatch"].get<std::size_t>(),
            doc["entries"].size());

  const ToolRun r2 = sb.tool({"--json", "list", "tiny_c", "tiny_a:V1"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const json d2 = r2.doc();
  ASSERT_EQ(d2["entries"].size(), 2u) << "NAME lists every tag of a model, NAME:TAG one";

  // Human output: a table and a totals line.
  const ToolRun text = sb.tool({"list", "tiny_a"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("MODEL"));
  EXPECT_THAT(text.out, HasSubstr("tiny_a"));
  EXPECT_THAT(text.out, HasSubstr("V1*"));
  EXPECT_THAT(text.out, HasSubstr("1 verified"));
  // --quiet keeps the table (the data asked for) and drops the totals line.
  const ToolRun quiet = sb.tool({"--quiet", "list", "tiny_a"});
  EXPECT_THAT(quiet.out, HasSubstr("tiny_a"));
  EXPECT_THAT(quiet.out, Not(HasSubstr("1 verified")));
}

TEST(CacheToolList, ReadOnlyVerifiedCopyIsReported) {
  Sandbox sb;
  const Served d = sb.serve("tiny_ro", "V1", random_bytes(900, 7));
  write_file(sb.dir() / "ro" / d.file_name, d.bytes);
  // A stamp beside the read-only copy makes it verified at the cost of a stat.
  ASSERT_EQ(run_tool({"--cache-dir", (sb.dir() / "ro").string(), "--registry", sb.registry().string(), "verify",
                      "tiny_ro"})
                .exit_code,
            0);
  const ToolRun r = sb.tool({"--json", "list", "tiny_ro"}, {{"MODELZOO_READONLY_CACHES", (sb.dir() / "ro").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json row = r.doc()["entries"][0];
  EXPECT_EQ(row["state"], "verified");
  EXPECT_EQ(row["readonly"], true);
  EXPECT_EQ(row["path"], (sb.dir() / "ro" / d.file_name).string());
  const ToolRun text = sb.tool({"list", "tiny_ro"}, {{"MODELZOO_READONLY_CACHES", (sb.dir() / "ro").string()}});
  EXPECT_THAT(text.out, HasSubstr("verified (read-only cache)"));
}

TEST(CacheToolPath, PrintsThePathAndFailsWhenAbsent) {
  Sandbox sb;
  const Served a = sb.serve("tiny_p", "V1", random_bytes(1000, 3));
  const ToolRun absent = sb.tool({"path", "tiny_p"});
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_EQ(absent.out, (sb.cache() / a.file_name).string() + "\n") << "where it would be";
  EXPECT_THAT(absent.err, HasSubstr("not in the cache"));
  ASSERT_EQ(sb.tool({"fetch", "tiny_p"}).exit_code, 0);
  const ToolRun present = sb.tool({"path", "tiny_p:V1"});
  EXPECT_EQ(present.exit_code, 0);
  EXPECT_EQ(present.out, (sb.cache() / a.file_name).string() + "\n");
  const json d = sb.tool({"--json", "path", "tiny_p"}).doc();
  EXPECT_EQ(d["ok"], true);
  EXPECT_EQ(d["entries"][0]["state"], "verified");
  EXPECT_EQ(d["entries"][0]["path"], (sb.cache() / a.file_name).string());
}

TEST(CacheToolRm, RemovesFileStampAndPartialAndFailsWhenAbsent) {
  Sandbox sb;
  const Served a = sb.serve("tiny_r", "V1", random_bytes(1000, 4));
  const Served b = sb.serve("tiny_r", "V2", random_bytes(1200, 5));
  ASSERT_EQ(sb.tool({"fetch", "tiny_r:*"}).exit_code, 0);
  ASSERT_TRUE(fs::exists(sb.cache() / (a.file_name + ".mzstamp")));
  write_file(sb.cache() / (a.file_name + ".part"), "junk");

  const ToolRun r = sb.tool({"--json", "rm", "tiny_r:V1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["results"][0]["status"], "removed");
  EXPECT_FALSE(fs::exists(sb.cache() / a.file_name));
  EXPECT_FALSE(fs::exists(sb.cache() / (a.file_name + ".mzstamp")));
  EXPECT_FALSE(fs::exists(sb.cache() / (a.file_name + ".part")));
  EXPECT_TRUE(fs::exists(sb.cache() / b.file_name)) << "other tags are kept";

  const ToolRun again = sb.tool({"rm", "tiny_r:V1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("not in the cache"));

  // Files in a read-only cache are never removed.
  write_file(sb.dir() / "ro" / a.file_name, a.bytes);
  const ToolRun ro = sb.tool({"--json", "rm", "tiny_r:V1"}, {{"MODELZOO_READONLY_CACHES", (sb.dir() / "ro").string()}});
  EXPECT_EQ(ro.exit_code, 1);
  EXPECT_EQ(ro.doc()["results"][0]["status"], "readonly");
  EXPECT_TRUE(fs::exists(sb.dir() / "ro" / a.file_name));
}

}  // namespace
}  // namespace ct_test
