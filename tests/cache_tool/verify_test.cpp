// cache_tool verify: a full rehash that does not trust stamps; --repair
// downloads a corrupted file again, or removes it when offline.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

/// Flips one byte of `file` keeping its size and times, so that its stamp
/// still looks valid: silent corruption only a rehash can find.
void corrupt_in_place(const fs::path& file, std::size_t offset) {
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  std::string bytes = read_file(file);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] ^= 0x10;
  write_file(file, bytes);
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
}

TEST(CacheToolVerify, AllGoodAndUnknownFilesReported) {
  Sandbox sb;
  const Served a = sb.serve("ver_a", "V1", random_bytes(40000, 101));
  const Served b = sb.serve("ver_b", "V1", random_bytes(50000, 102));
  ASSERT_EQ(sb.tool({"fetch", "ver_a", "ver_b"}).exit_code, 0);
  write_file(sb.cache() / "someone-elses.pth", "python put this here");
  write_file(sb.cache() / (b.file_name + ".part"), "half");
  const ToolRun r = sb.tool({"--json", "verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_EQ(d["command"], "verify");
  EXPECT_EQ(d["ok"], true);
  EXPECT_EQ(d["summary"]["ok"], 2);
  EXPECT_EQ(d["summary"]["unknown"], 1);
  EXPECT_EQ(d["summary"]["partial"], 1);
  std::map<std::string, json> by_name;
  for (const auto& f : d["files"]) by_name[f["file_name"].get<std::string>() + "|" + f["status"].get<std::string>()] = f;
  const json& fa = by_name[a.file_name + "|ok"];
  EXPECT_EQ(fa["actual_sha256"], a.sha256);
  EXPECT_EQ(fa["expected_sha256"], a.sha256);
  EXPECT_EQ(fa["size"], a.bytes.size());
  EXPECT_EQ(fa["entries"][0], "ver_a:V1");
  EXPECT_EQ(by_name["someone-elses.pth|unknown"]["actual_sha256"], sha256_hex("python put this here"));
  EXPECT_TRUE(by_name.count(b.file_name + "|partial"));
  // Naming entries checks only those; an entry not in the cache is a failure.
  const ToolRun one = sb.tool({"verify", "ver_a"});
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_THAT(one.out, HasSubstr("ok       " + (sb.cache() / a.file_name).string()));
  const Served c = sb.serve("ver_c", "V1", random_bytes(1000, 103));
  const ToolRun absent = sb.tool({"verify", "ver_a", "ver_c"});
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_THAT(absent.err, HasSubstr("ABSENT"));
  EXPECT_THAT(absent.err, HasSubstr("ver_c:V1"));
}

TEST(CacheToolVerify, FindsSilentCorruptionAndRepairRedownloads) {
  Sandbox sb;
  const Served a = sb.serve("rot", "V1", random_bytes(80000, 104));
  ASSERT_EQ(sb.tool({"fetch", "rot"}).exit_code, 0);
  const fs::path file = sb.cache() / a.file_name;
  corrupt_in_place(file, 5000);
  const std::string bad_sha = sha256_hex(read_file(file));
  // The stamp still matches size and mtime, so a lookup trusts it ...
  EXPECT_EQ(sb.tool({"--json", "list", "rot"}).doc()["entries"][0]["state"], "verified");
  // ... but verify reads every byte.
  const ToolRun v = sb.tool({"--json", "verify", "rot"});
  EXPECT_EQ(v.exit_code, 1);
  const json f = v.doc()["files"][0];
  EXPECT_EQ(f["status"], "mismatch");
  EXPECT_EQ(f["expected_sha256"], a.sha256);
  EXPECT_EQ(f["actual_sha256"], bad_sha);
  EXPECT_EQ(f["against"], "registry");
  // The lying stamp is gone, so lookups no longer trust the file.
  EXPECT_FALSE(fs::exists(sb.cache() / (a.file_name + ".mzstamp")));
  const ToolRun text = sb.tool({"verify", "rot"});
  EXPECT_THAT(text.err, HasSubstr("MISMATCH"));
  EXPECT_THAT(text.err, HasSubstr(bad_sha));

  const std::size_t before = server().request_count(a.server_path());
  const ToolRun rep = sb.tool({"--json", "verify", "--repair"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  const json rf = rep.doc()["files"][0];
  EXPECT_EQ(rf["status"], "repaired");
  EXPECT_EQ(rf["actual_sha256"], a.sha256);
  EXPECT_EQ(rep.doc()["summary"]["repaired"], 1);
  EXPECT_EQ(server().request_count(a.server_path()), before + 1);
  EXPECT_EQ(read_file(file), a.bytes);
  EXPECT_EQ(sb.tool({"verify"}).exit_code, 0) << "clean after the repair";
}

TEST(CacheToolVerify, OfflineRepairRemovesWhatIsWrong) {
  Sandbox sb;
  const Served a = sb.serve("rot_off", "V1", random_bytes(20000, 105));
  const Served b = sb.serve("fine_off", "V1", random_bytes(20000, 106));
  ASSERT_EQ(sb.tool({"fetch", "rot_off", "fine_off"}).exit_code, 0);
  corrupt_in_place(sb.cache() / a.file_name, 0);
  const std::size_t before = server().request_count(a.server_path());
  const ToolRun rep = sb.tool({"--json", "verify", "--repair"}, {{"MODELZOO_OFFLINE", "1"}});
  EXPECT_EQ(rep.exit_code, 0) << rep.err;
  std::map<std::string, json> by_file;
  const json report = rep.doc();
  for (const auto& f : report["files"]) by_file[f["file_name"].get<std::string>()] = f;
  EXPECT_EQ(by_file[a.file_name]["status"], "removed");
  EXPECT_THAT(by_file[a.file_name]["action"].get<std::string>(), HasSubstr("offline"));
  EXPECT_EQ(by_file[b.file_name]["status"], "ok");
  EXPECT_FALSE(fs::exists(sb.cache() / a.file_name));
  EXPECT_TRUE(fs::exists(sb.cache() / b.file_name));
  EXPECT_EQ(server().request_count(a.server_path()), before) << "offline: no request";
}

TEST(CacheToolVerify, FailedRedownloadRemovesAndFails) {
  Sandbox sb;
  const std::string bytes = random_bytes(10000, 107);
  server().write_file("ct/vanishing.pth", bytes);
  sb.add_entry("vanish", "V1", server().http_url() + "/ct/vanishing.pth", sha256_hex(bytes), bytes.size());
  ASSERT_EQ(sb.tool({"fetch", "vanish"}).exit_code, 0);
  corrupt_in_place(sb.cache() / "vanishing.pth", 10);
  fs::remove(server().docroot() / "ct" / "vanishing.pth");  // the server lost it meanwhile
  const ToolRun rep = sb.tool({"--json", "verify", "--repair", "vanish"});
  EXPECT_EQ(rep.exit_code, 1);
  const json f = rep.doc()["files"][0];
  EXPECT_EQ(f["status"], "removed");
  EXPECT_EQ(f["repair_failed"], true);
  EXPECT_THAT(f["error"].get<std::string>(), HasSubstr("HTTP 404"));
  EXPECT_FALSE(fs::exists(sb.cache() / "vanishing.pth"));
}

TEST(CacheToolVerify, ReadOnlyCachesAreCheckedButNeverTouched) {
  Sandbox sb;
  const std::string bytes = random_bytes(6000, 108);
  sb.add_entry("ro_ver", "V1", "http://127.0.0.1:1/ro_ver-1.pth", sha256_hex(bytes), bytes.size());
  std::string bad = bytes;
  bad[1] ^= 1;
  const fs::path ro = sb.dir() / "ro";
  write_file(ro / "ro_ver-1.pth", bad);
  const ToolRun r = sb.tool({"--json", "verify", "--repair", "ro_ver"}, {{"MODELZOO_READONLY_CACHES", ro.string()}});
  EXPECT_EQ(r.exit_code, 1);
  const json f = r.doc()["files"][0];
  EXPECT_EQ(f["status"], "mismatch");
  EXPECT_EQ(f["readonly"], true);
  EXPECT_THAT(f["action"].get<std::string>(), HasSubstr("read-only"));
  EXPECT_EQ(read_file(ro / "ro_ver-1.pth"), bad);
}

}  // namespace
}  // namespace ct_test
