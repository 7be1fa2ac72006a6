// Pinned full hashes that rest on a single public source
// ("hash_confidence": "single_source"): a file that fails them is refused even
// when it matches the hash prefix in its name, the error says so and how to
// accept the file, `list` shows the confidence, and a user registry that
// redefines only the tag's sha256 accepts it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Pinned {
  std::string bytes, digest, file_name, url;
};

// A local file named like torch.hub names files (<stem>-<first 8 hex>.pth)
// and a registry entry that pins another full digest with that prefix.
Pinned pin(const Sandbox& sb, const std::string& confidence, uint32_t seed) {
  Pinned p;
  p.bytes = random_bytes(20000, seed);
  p.digest = sha256_hex(p.bytes);
  p.file_name = "pinned-" + p.digest.substr(0, 8) + ".pth";
  write_file(sb.dir() / "src" / p.file_name, p.bytes);
  p.url = "file://" + (sb.dir() / "src" / p.file_name).string();
  const std::string wrong = p.digest.substr(0, 8) + std::string(56, 'e');
  json doc = {{"format_version", 1},
              {"models",
               {{"pinned_model",
                 {{"weights", {{"V1", {{"url", p.url}, {"sha256", wrong}, {"hash_confidence", confidence}}}}}}}}}};
  write_file(sb.registry(), doc.dump());
  return p;
}

TEST(CacheToolPinned, SingleSourceMismatchIsRefusedAndSaysHowToAcceptTheFile) {
  Sandbox sb;
  const Pinned p = pin(sb, "single_source", 81);
  const ToolRun r = sb.tool({"--json", "fetch", "pinned_model"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string msg = r.doc()["results"][0]["error"];
  EXPECT_THAT(msg, HasSubstr("sha256 mismatch"));
  EXPECT_THAT(msg, HasSubstr("The registry's sha256 for pinned_model:V1 rests on a single public source"));
  EXPECT_THAT(msg, HasSubstr("The file does match the hash prefix in its name (" + p.digest.substr(0, 8) + ")"));
  EXPECT_THAT(msg, HasSubstr("It was refused all the same"));
  EXPECT_THAT(msg, HasSubstr("--sha256 " + p.digest));
  EXPECT_THAT(msg, HasSubstr("\"sha256\": \"" + p.digest + "\""));
  EXPECT_FALSE(fs::exists(sb.cache() / p.file_name)) << "unverified bytes never reach the cache";

  // `list` shows which pinned values have one source.
  const json l = sb.tool({"--json", "list", "pinned_model"}).doc();
  EXPECT_EQ(l["entries"][0]["hash"], "full");
  EXPECT_EQ(l["entries"][0]["hash_confidence"], "single_source");
  EXPECT_EQ(l["entries"][0]["size_confidence"], nullptr);
  const ToolRun text = sb.tool({"list", "pinned_model"});
  EXPECT_THAT(text.out, HasSubstr("SINGLE-SOURCE"));
  EXPECT_THAT(text.out, HasSubstr("full   sha256"));
  EXPECT_THAT(text.out, HasSubstr("1 with a value from a single source"));

  // Accepting it: a second user registry that redefines only the sha256.
  const fs::path mine = sb.dir() / "accept.json";
  write_file(mine, json({{"format_version", 1},
                         {"models", {{"pinned_model", {{"weights", {{"V1", {{"sha256", p.digest}}}}}}}}}})
                       .dump());
  const ToolRun ok = sb.tool({"--registry", mine.string(), "--json", "fetch", "pinned_model"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(read_file(sb.cache() / p.file_name), p.bytes);
  const json l2 = sb.tool({"--registry", mine.string(), "--json", "list", "pinned_model"}).doc();
  EXPECT_EQ(l2["entries"][0]["hash_confidence"], nullptr) << "the user's own value";
  EXPECT_EQ(l2["entries"][0]["url"], p.url) << "the rest of the entry is kept";
}

TEST(CacheToolPinned, ImportNamesTheSingleSourceToo) {
  Sandbox sb;
  const Pinned p = pin(sb, "single_source", 82);
  const ToolRun r = sb.tool({"--json", "import", "pinned_model", (sb.dir() / "src" / p.file_name).string()});
  EXPECT_EQ(r.exit_code, 1);
  const std::string msg = r.doc()["results"][0]["error"];
  EXPECT_THAT(msg, HasSubstr("rests on a single public source"));
  EXPECT_THAT(msg, HasSubstr("--sha256 " + p.digest));
}

TEST(CacheToolPinned, MultipleSourceMismatchIsAPlainMismatch) {
  Sandbox sb;
  const Pinned p = pin(sb, "multiple_sources", 83);
  const ToolRun r = sb.tool({"--json", "fetch", "pinned_model"});
  EXPECT_EQ(r.exit_code, 1);
  const std::string msg = r.doc()["results"][0]["error"];
  EXPECT_THAT(msg, HasSubstr("sha256 mismatch"));
  EXPECT_THAT(msg, Not(HasSubstr("single public source")));
  EXPECT_FALSE(fs::exists(sb.cache() / p.file_name));
  EXPECT_THAT(sb.tool({"list", "pinned_model"}).out, HasSubstr("full   -"));
}

}  // namespace
}  // namespace ct_test
