// cache_tool import: files obtained elsewhere enter the cache only after
// they verified against the registry.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

TEST(CacheToolImport, VerifiedFileIsPublishedWithAStamp) {
  Sandbox sb;
  const std::string bytes = random_bytes(30000, 71);
  sb.add_entry("usb_model", "V1", "http://127.0.0.1:1/usb_model-1.pth", sha256_hex(bytes), bytes.size());
  write_file(sb.dir() / "usb" / "download (1).pth", bytes);  // renamed by a browser
  const ToolRun r = sb.tool({"--json", "import", "usb_model", (sb.dir() / "usb" / "download (1).pth").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_EQ(d["ok"], true);
  EXPECT_EQ(d["summary"]["imported"], 1);
  const json& res = d["results"][0];
  EXPECT_EQ(res["status"], "imported");
  EXPECT_EQ(res["actual_sha256"], sha256_hex(bytes));
  EXPECT_EQ(res["path"], (sb.cache() / "usb_model-1.pth").string());
  EXPECT_EQ(read_file(sb.cache() / "usb_model-1.pth"), bytes);
  EXPECT_TRUE(fs::exists(sb.cache() / "usb_model-1.pth.mzstamp"));
  EXPECT_EQ(files_under(sb.cache()),
            (std::vector<std::string>{"usb_model-1.pth", "usb_model-1.pth.lock", "usb_model-1.pth.mzstamp"}))
      << "no temporary file is left behind";
  // The cache now answers offline.
  const json l = sb.tool({"--json", "list", "usb_model"}).doc();
  EXPECT_EQ(l["entries"][0]["state"], "verified");
  // Importing again is a no-op that still checks the given file.
  const ToolRun again = sb.tool({"import", "usb_model:V1", (sb.dir() / "usb" / "download (1).pth").string()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.out, HasSubstr("cached"));
}

TEST(CacheToolImport, MismatchIsRefusedWithBothHashesAndNothingWritten) {
  Sandbox sb;
  const std::string good = random_bytes(30000, 72);
  std::string bad = good;
  bad[12345] ^= 0x40;  // same size, one bit flipped
  sb.add_entry("flip", "V1", "http://127.0.0.1:1/flip-1.pth", sha256_hex(good), good.size());
  write_file(sb.dir() / "flip.pth", bad);
  const ToolRun r = sb.tool({"--json", "import", "flip", (sb.dir() / "flip.pth").string()});
  EXPECT_EQ(r.exit_code, 1);
  const json res = r.doc()["results"][0];
  EXPECT_EQ(res["status"], "failed");
  EXPECT_EQ(res["expected_sha256"], sha256_hex(good));
  EXPECT_EQ(res["actual_sha256"], sha256_hex(bad));
  const std::string msg = res["error"];
  EXPECT_THAT(msg, HasSubstr("expected " + sha256_hex(good)));
  EXPECT_THAT(msg, HasSubstr("got " + sha256_hex(bad)));
  EXPECT_THAT(msg, HasSubstr("flip:V1"));
  EXPECT_FALSE(fs::exists(sb.cache() / "flip-1.pth"));
  for (const auto& f : files_under(sb.cache())) EXPECT_THAT(f, ::testing::Not(HasSubstr("mztmp"))) << f;
  // Human output prints both hashes too.
  const ToolRun text = sb.tool({"import", "flip", (sb.dir() / "flip.pth").string()});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_THAT(text.err, HasSubstr(sha256_hex(good)));
  EXPECT_THAT(text.err, HasSubstr(sha256_hex(bad)));
  // A wrong size is refused before hashing.
  write_file(sb.dir() / "short.pth", good.substr(0, 100));
  const ToolRun size = sb.tool({"import", "flip", (sb.dir() / "short.pth").string()});
  EXPECT_EQ(size.exit_code, 1);
  EXPECT_THAT(size.err, HasSubstr("expected 30000 bytes, got 100"));
  // A missing file is a failure naming it.
  const ToolRun missing = sb.tool({"import", "flip", (sb.dir() / "nope.pth").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nope.pth"));
}

TEST(CacheToolImport, PrefixHashEntriesVerifyTheirPrefix) {
  Sandbox sb;
  const std::string bytes = random_bytes(5000, 73);
  const std::string digest = sha256_hex(bytes);
  json doc = sb.registry_doc();
  doc["models"]["pfx"]["weights"]["V1"] = {{"url", "http://127.0.0.1:1/pfx-" + digest.substr(0, 8) + ".pth"},
                                           {"sha256_prefix", digest.substr(0, 8)}};
  write_file(sb.registry(), doc.dump());
  write_file(sb.dir() / "pfx.pth", bytes);
  const ToolRun r = sb.tool({"--json", "import", "pfx", (sb.dir() / "pfx.pth").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["results"][0]["hash"], "prefix");
  write_file(sb.dir() / "other.pth", random_bytes(5000, 74));
  sb.tool({"rm", "pfx"});
  EXPECT_EQ(sb.tool({"import", "pfx", (sb.dir() / "other.pth").string()}).exit_code, 1);
}

TEST(CacheToolImport, DirectoryImportsByNameOrContentAndSkipsTheRest) {
  Sandbox sb;
  const std::string a = random_bytes(10000, 75), b = random_bytes(11000, 76), c = random_bytes(12000, 77);
  sb.add_entry("dir_a", "V1", "http://127.0.0.1:1/dir_a-1.pth", sha256_hex(a), a.size());
  sb.add_entry("dir_b", "V1", "http://127.0.0.1:1/dir_b-1.pth", sha256_hex(b), b.size());
  sb.add_entry("dir_c", "V1", "http://127.0.0.1:1/dir_c-1.pth", sha256_hex(c), c.size());
  const fs::path usb = sb.dir() / "usb";
  write_file(usb / "dir_a-1.pth", a);                         // by name
  write_file(usb / "renamed.bin", b);                         // by content
  std::string c_bad = c;
  c_bad[0] ^= 1;
  write_file(usb / "dir_c-1.pth", c_bad);                     // by name, but wrong
  write_file(usb / "holiday.jpg", "not weights");             // unknown
  write_file(usb / "dir_a-1.pth.mzstamp", "{}");              // side files are ignored
  const ToolRun r = sb.tool({"--json", "import", "--dir", usb.string()});
  EXPECT_EQ(r.exit_code, 1) << "one file was wrong";
  const json d = r.doc();
  EXPECT_EQ(d["summary"]["imported"], 2);
  EXPECT_EQ(d["summary"]["skipped"], 1);
  EXPECT_EQ(d["summary"]["failed"], 1);
  std::map<std::string, json> by_file;
  for (const auto& res : d["results"]) by_file[fs::path(res["file"].get<std::string>()).filename().string()] = res;
  EXPECT_EQ(by_file.size(), 4u);
  EXPECT_EQ(by_file["dir_a-1.pth"]["status"], "imported");
  EXPECT_EQ(by_file["renamed.bin"]["status"], "imported");
  EXPECT_EQ(by_file["renamed.bin"]["model"], "dir_b");
  EXPECT_EQ(by_file["dir_c-1.pth"]["status"], "failed");
  EXPECT_EQ(by_file["holiday.jpg"]["status"], "skipped");
  EXPECT_EQ(read_file(sb.cache() / "dir_a-1.pth"), a);
  EXPECT_EQ(read_file(sb.cache() / "dir_b-1.pth"), b);
  EXPECT_FALSE(fs::exists(sb.cache() / "dir_c-1.pth"));
  EXPECT_FALSE(fs::exists(sb.cache() / "holiday.jpg"));

  EXPECT_EQ(sb.tool({"import", "--dir", (sb.dir() / "nope").string()}).exit_code, 2);
  EXPECT_EQ(sb.tool({"import", "dir_a", "x", "--dir", usb.string()}).exit_code, 2);
}

}  // namespace
}  // namespace ct_test
