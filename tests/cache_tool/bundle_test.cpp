// cache_tool pack / unpack: bundles round-trip between caches, GNU tar reads
// them (and bundles repacked by GNU tar still unpack), and hostile bundles are
// refused, each with its own message, with nothing written anywhere.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

TEST(CacheToolBundle, PackThenUnpackIntoAFreshCache) {
  Sandbox a("mz_ct_packA_");
  const Served one = a.serve("bundle_one", "V1", random_bytes(150000, 81));
  const Served two = a.serve("bundle_two", "V1", random_bytes(170000, 82));
  ASSERT_EQ(a.tool({"fetch", "bundle_one", "bundle_two"}).exit_code, 0);
  const fs::path tar = a.dir() / "out" / "models.tar";
  fs::create_directories(tar.parent_path());
  const ToolRun p = a.tool({"--json", "pack", "bundle_one", "bundle_two", "-o", tar.string()});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const json pd = p.doc();
  EXPECT_EQ(pd["command"], "pack");
  EXPECT_EQ(pd["bundle"], tar.string());
  EXPECT_EQ(pd["payload_bytes"], 320000);
  EXPECT_EQ(pd["bytes"], fs::file_size(tar));
  EXPECT_EQ(pd["registry_fragment"], true);
  ASSERT_EQ(pd["files"].size(), 2u);
  EXPECT_EQ(files_under(tar.parent_path()), std::vector<std::string>{"models.tar"}) << "no temporary left";

  // GNU tar reads it: the manifest first, then the files under their cache names.
  const std::string listing = mz_test::must_run("tar -tf " + mz_test::shell_quote(tar.string()));
  EXPECT_EQ(listing, "manifest.json\n" + one.file_name + "\n" + two.file_name + "\n");
  const json m = json::parse(mz_test::must_run("tar -xOf " + mz_test::shell_quote(tar.string()) + " manifest.json"));
  EXPECT_EQ(m["format"], "modelzoo-bundle");
  EXPECT_EQ(m["format_version"], 1);
  EXPECT_THAT(m["created_by"].get<std::string>(), HasSubstr("cache_tool"));
  ASSERT_EQ(m["files"].size(), 2u);
  EXPECT_EQ(m["files"][0]["name"], one.file_name);
  EXPECT_EQ(m["files"][0]["size"], one.bytes.size());
  EXPECT_EQ(m["files"][0]["sha256"], one.sha256);
  EXPECT_EQ(m["files"][0]["entries"][0]["model"], "bundle_one");
  EXPECT_EQ(m["files"][0]["entries"][0]["tag"], "V1");
  EXPECT_EQ(m["files"][0]["entries"][0]["url"], one.url);
  EXPECT_EQ(m["registry"]["models"]["bundle_two"]["weights"]["V1"]["sha256"], two.sha256);
  EXPECT_EQ(mz_test::must_run("tar -xOf " + mz_test::shell_quote(tar.string()) + " " + one.file_name), one.bytes);

  // Machine B: a fresh cache, offline, only the built-in registry.
  mz_test::TempDir b("mz_ct_packB_");
  const fs::path cache_b = b.path() / "cache";
  const ToolRun u = run_tool({"--cache-dir", cache_b.string(), "--json", "unpack", tar.string()}, {{"MODELZOO_OFFLINE", "1"}});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  const json ud = u.doc();
  EXPECT_EQ(ud["command"], "unpack");
  EXPECT_EQ(ud["bytes_written"], 320000);
  EXPECT_EQ(ud["files"][0]["status"], "unpacked");
  const fs::path reg_b = cache_b / "bundle-registries" / "models.json";
  EXPECT_EQ(ud["registry_file"], reg_b.string());
  EXPECT_EQ(read_file(cache_b / one.file_name), one.bytes);
  EXPECT_EQ(read_file(cache_b / two.file_name), two.bytes);
  // The unpacked registry entries make the files usable (and verified) on B.
  const ToolRun l = run_tool({"--cache-dir", cache_b.string(), "--registry", reg_b.string(), "--json", "list", "bundle_one",
                          "bundle_two"},
                         {{"MODELZOO_OFFLINE", "1"}});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  const json listed = l.doc();
  for (const auto& e : listed["entries"]) EXPECT_EQ(e["state"], "verified") << e.dump();
  // Without those entries B does not know the models, and says where they are.
  const ToolRun unknown = run_tool({"--cache-dir", cache_b.string(), "list", "bundle_two"}, {{"MODELZOO_OFFLINE", "1"}});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown model \"bundle_two\""));
  EXPECT_THAT(unknown.err, HasSubstr("defined by the registry entries a bundle brought: " + reg_b.string() +
                                     " (add it with --registry " + reg_b.string()));
  mz_test::TempDir c("mz_ct_packC_");
  const ToolRun elsewhere = run_tool({"--cache-dir", (c.path() / "cache").string(), "list", "bundle_two"});
  EXPECT_THAT(elsewhere.err, HasSubstr("if it came in a bundle, `unpack` wrote the bundle's registry entries to " +
                                       (c.path() / "cache" / "bundle-registries").string() + "/<bundle name>.json"));
  // Unpacking again finds everything present.
  const ToolRun again = run_tool({"--cache-dir", cache_b.string(), "--json", "unpack", tar.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.doc()["files"][0]["status"], "present");
  EXPECT_EQ(again.doc()["bytes_written"], 0);
}

TEST(CacheToolBundle, BundleRepackedByGnuTarStillUnpacks) {
  Sandbox a;
  const Served one = a.serve("gnu_one", "V1", random_bytes(40000, 83));
  ASSERT_EQ(a.tool({"fetch", "gnu_one"}).exit_code, 0);
  const fs::path tar = a.dir() / "ours.tar";
  ASSERT_EQ(a.tool({"pack", "gnu_one", "-o", tar.string()}).exit_code, 0);
  const fs::path x = a.dir() / "x";
  fs::create_directories(x);
  mz_test::must_run("tar -C " + mz_test::shell_quote(x.string()) + " -xf " + mz_test::shell_quote(tar.string()));
  for (const char* format : {"ustar", "pax", "gnu"}) {
    const fs::path repacked = a.dir() / (std::string(format) + ".tar");
    mz_test::must_run("tar -C " + mz_test::shell_quote(x.string()) + " --format=" + format + " -cf " +
                      mz_test::shell_quote(repacked.string()) + " manifest.json " + one.file_name);
    mz_test::TempDir b;
    const ToolRun u = run_tool({"--cache-dir", (b.path() / "c").string(), "unpack", repacked.string()});
    EXPECT_EQ(u.exit_code, 0) << format << ": " << u.err;
    EXPECT_EQ(read_file(b.path() / "c" / one.file_name), one.bytes) << format;
  }
}

TEST(CacheToolBundle, LongFileNamesUseExtendedHeaders) {
  Sandbox a;
  const std::string bytes = random_bytes(5000, 85);
  const std::string long_name = std::string(180, 'w') + "-" + sha256_hex(bytes).substr(0, 8) + ".pth";
  a.add_entry("long_one", "V1", "http://127.0.0.1:1/x.pth", sha256_hex(bytes), bytes.size(), long_name);
  write_file(a.dir() / "src.pth", bytes);
  ASSERT_EQ(a.tool({"import", "long_one", (a.dir() / "src.pth").string()}).exit_code, 0);
  const fs::path tar = a.dir() / "long.tar";
  ASSERT_EQ(a.tool({"pack", "long_one", "-o", tar.string()}).exit_code, 0);
  EXPECT_EQ(mz_test::must_run("tar -tf " + mz_test::shell_quote(tar.string())), "manifest.json\n" + long_name + "\n")
      << "GNU tar sees the whole name";
  mz_test::TempDir b;
  const ToolRun u = run_tool({"--cache-dir", (b.path() / "c").string(), "unpack", tar.string()});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(read_file(b.path() / "c" / long_name), bytes);
}

TEST(CacheToolBundle, PackRefusesWhatIsNotVerifiedInTheCache) {
  Sandbox sb;
  const Served one = sb.serve("pk_one", "V1", random_bytes(20000, 84));
  const fs::path tar = sb.dir() / "b.tar";
  const ToolRun absent = sb.tool({"pack", "pk_one", "-o", tar.string()});
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_THAT(absent.err, HasSubstr("pk_one:V1 (absent)"));
  EXPECT_THAT(absent.err, HasSubstr("cache_tool fetch"));
  EXPECT_FALSE(fs::exists(tar));
  const ToolRun empty = sb.tool({"pack", "--all", "-o", tar.string()});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, HasSubstr("nothing to pack"));
  EXPECT_FALSE(fs::exists(tar));
  EXPECT_EQ(sb.tool({"pack", "--all", "pk_one", "-o", tar.string()}).exit_code, 2);

  // A file damaged after it was stamped (same size and mtime) is caught while packing.
  ASSERT_EQ(sb.tool({"fetch", "pk_one"}).exit_code, 0);
  const fs::path file = sb.cache() / one.file_name;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  std::string damaged = one.bytes;
  damaged[100] ^= 0x01;
  write_file(file, damaged);
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  const ToolRun changed = sb.tool({"pack", "--all", "-o", tar.string()});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_THAT(changed.err, HasSubstr("changed since it was verified"));
  EXPECT_THAT(changed.err, HasSubstr(sha256_hex(damaged)));
  EXPECT_FALSE(fs::exists(tar));
  for (const auto& f : files_under(sb.dir())) EXPECT_THAT(f, ::testing::Not(HasSubstr(".tmp"))) << f;
}

// ---------------------------------------------------------------------------
// Hostile bundles

class HostileBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    good_ = random_bytes(3000, 91);
    other_ = random_bytes(2000, 92);
    sb_.add_entry("evil", "V1", "http://127.0.0.1:1/evil-1.pth", sha256_hex(good_), good_.size());
    sb_.add_entry("other", "V1", "http://127.0.0.1:1/other-1.pth", sha256_hex(other_), other_.size());
  }

  static json file_entry(const std::string& name, const std::string& bytes, const std::string& model) {
    return {{"name", name},
            {"size", bytes.size()},
            {"sha256", sha256_hex(bytes)},
            {"entries", {{{"model", model}, {"tag", "V1"}, {"default", true}, {"url", "http://127.0.0.1:1/" + name}}}}};
  }
  static std::string manifest(const std::vector<json>& files, const json& registry = nullptr) {
    json m = {{"format", "modelzoo-bundle"}, {"format_version", 1}, {"created_by", "test"}, {"files", files},
              {"registry", registry}};
    return tar_member("manifest.json", m.dump());
  }
  std::string good_manifest() const {
    return manifest({file_entry("evil-1.pth", good_, "evil"), file_entry("other-1.pth", other_, "other")});
  }

  /// Unpacks `archive` into the sandbox's cache; expects a refusal naming `message`.
  void expect_refused(const std::string& archive, const std::string& message) {
    const fs::path bundle = sb_.dir() / "hostile.tar";
    write_file(bundle, archive);
    const auto before = files_under(sb_.dir());
    const ToolRun r = sb_.tool({"unpack", bundle.string()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(files_under(sb_.cache()), std::vector<std::string>{}) << "nothing may be written to the cache";
    EXPECT_EQ(files_under(sb_.dir()), before) << "nothing may be written anywhere";
    EXPECT_FALSE(fs::exists(escape_)) << "a member escaped the cache";
    const ToolRun j = sb_.tool({"--json", "unpack", bundle.string()});
    EXPECT_EQ(j.exit_code, 1);
    EXPECT_EQ(j.doc()["ok"], false);
  }

  Sandbox sb_{"mz_ct_hostile_"};
  std::string good_, other_;
  fs::path escape_ = fs::temp_directory_path() / ("mz_ct_escaped_" + std::to_string(::getpid()));
};

TEST_F(HostileBundle, WellFormedBundleIsAccepted) {
  // The control case: the same building blocks, nothing hostile.
  const fs::path bundle = sb_.dir() / "fine.tar";
  write_file(bundle, good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_) + tar_end());
  const ToolRun r = sb_.tool({"unpack", bundle.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(sb_.cache() / "evil-1.pth"), good_);
  EXPECT_EQ(read_file(sb_.cache() / "other-1.pth"), other_);
}

TEST_F(HostileBundle, AbsolutePath) {
  expect_refused(good_manifest() + tar_member(escape_.string(), good_) + tar_end(), "has an absolute path");
}

TEST_F(HostileBundle, DotDotPath) {
  expect_refused(good_manifest() + tar_member("../../escaped.pth", good_) + tar_end(), "\"..\" path component");
  EXPECT_FALSE(fs::exists(sb_.dir().parent_path() / "escaped.pth"));
}

TEST_F(HostileBundle, SubdirectoryPath) {
  expect_refused(good_manifest() + tar_member("sub/evil-1.pth", good_) + tar_end(), "is in a subdirectory");
}

TEST_F(HostileBundle, SymbolicLink) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '2', escape_.string()) + tar_end(),
                 "is a symbolic link to \"" + escape_.string() + "\"");
}

TEST_F(HostileBundle, HardLink) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '1', "/etc/passwd") + tar_end(),
                 "is a hard link to \"/etc/passwd\"");
}

TEST_F(HostileBundle, DeviceDirectoryAndFifo) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '3') + tar_end(), "is a character device");
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '4') + tar_end(), "is a block device");
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '5') + tar_end(), "is a directory");
  expect_refused(good_manifest() + tar_member("evil-1.pth", "", '6') + tar_end(), "is a FIFO");
}

TEST_F(HostileBundle, OversizedMember) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", good_ + std::string(1 << 20, 'x')) + tar_end(),
                 "oversized member \"evil-1.pth\": " + std::to_string(good_.size() + (1 << 20)) + " bytes");
}

TEST_F(HostileBundle, OversizedManifest) {
  // 17 MiB of whitespace in the manifest member itself.
  json doc = {{"format", "modelzoo-bundle"}, {"format_version", 1}, {"files", json::array()}};
  const std::string big = doc.dump() + std::string(17 << 20, ' ');
  expect_refused(tar_member("manifest.json", big) + tar_end(), "oversized member manifest.json");
}

TEST_F(HostileBundle, DuplicateMember) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_) +
                     tar_member("evil-1.pth", good_) + tar_end(),
                 "member \"evil-1.pth\" appears more than once");
}

TEST_F(HostileBundle, MemberNotInTheManifest) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_) +
                     tar_member("payload.so", "\x7f" "ELF") + tar_end(),
                 "member \"payload.so\" is not listed in manifest.json");
}

TEST_F(HostileBundle, TruncatedInsideAMember) {
  const std::string full = good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_) + tar_end();
  const std::string cut = full.substr(0, full.size() - 1024 - 1500);
  expect_refused(cut, "truncated: member \"other-1.pth\" declares 2000 bytes");
}

TEST_F(HostileBundle, TruncatedAtAMemberBoundary) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_),
                 "without the end-of-archive marker");
}

TEST_F(HostileBundle, ManifestListsAMissingFile) {
  expect_refused(good_manifest() + tar_member("evil-1.pth", good_) + tar_end(),
                 "lists other-1.pth, which the bundle does not contain");
}

TEST_F(HostileBundle, CorruptHeaderChecksum) {
  std::string t = good_manifest() + tar_member("evil-1.pth", good_) + tar_member("other-1.pth", other_) + tar_end();
  const std::size_t second_header = good_manifest().size();
  t[second_header + 10] ^= 0x20;  // flip a bit in the member's name
  expect_refused(t, "bad header checksum");
}

TEST_F(HostileBundle, ContentDoesNotMatchItsHashAndNothingIsPublished) {
  std::string tampered = good_;
  tampered[7] ^= 0x01;
  // other-1.pth is fine and is verified first: it must not be published either.
  expect_refused(manifest({file_entry("other-1.pth", other_, "other"), file_entry("evil-1.pth", good_, "evil")}) +
                     tar_member("other-1.pth", other_) + tar_member("evil-1.pth", tampered) + tar_end(),
                 "sha256 mismatch for evil-1.pth from hostile.tar: expected " + sha256_hex(good_) + ", got " +
                     sha256_hex(tampered));
}

TEST_F(HostileBundle, ManifestDisagreesWithTheRegistry) {
  std::string substitute = random_bytes(good_.size(), 93);
  // A self-consistent bundle (manifest matches the data) that replaces evil:V1.
  expect_refused(manifest({file_entry("evil-1.pth", substitute, "evil")}) + tar_member("evil-1.pth", substitute) +
                     tar_end(),
                 "the registry (" + sb_.registry().string() + ") expects sha256 " + sha256_hex(good_));
}

TEST_F(HostileBundle, BundleRegistryMayNotRedefineLocalEntries) {
  std::string substitute = random_bytes(good_.size(), 94);
  const json fragment = {{"format_version", 1},
                         {"models",
                          {{"evil",
                            {{"weights",
                              {{"V1",
                                {{"url", "http://127.0.0.1:1/evil-1.pth"},
                                 {"sha256", sha256_hex(substitute)},
                                 {"size", substitute.size()}}}}}}}}}};
  const std::string archive = manifest({file_entry("evil-1.pth", substitute, "evil")}, fragment) +
                              tar_member("evil-1.pth", substitute) + tar_end();
  expect_refused(archive, "redefines evil:V1");
  // The refusal says how to accept the sender's entry: their registry with --registry.
  expect_refused(archive, "To accept the sender's entry, unpack with the sender's registry file: cache_tool "
                          "--registry THEIR_REGISTRY.json unpack BUNDLE");
  const fs::path theirs = sb_.dir() / "theirs.json";
  write_file(theirs, fragment.dump());
  write_file(sb_.dir() / "accepted.tar", archive);
  const ToolRun r = sb_.tool({"--registry", theirs.string(), "unpack", (sb_.dir() / "accepted.tar").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(sb_.cache() / "evil-1.pth"), substitute);
}

TEST_F(HostileBundle, NoManifestOrABadOne) {
  expect_refused(tar_member("evil-1.pth", good_) + tar_end(), "no manifest.json member");
  expect_refused(tar_member("manifest.json", "{\"format\": \"zip\"}") + tar_end(), "/format: expected \"modelzoo-bundle\"");
  json bad = {{"format", "modelzoo-bundle"}, {"format_version", 1},
              {"files", {{{"name", ".mzstamp"}, {"size", 1}, {"sha256", std::string(64, '0')}, {"entries", json::array()}}}}};
  expect_refused(tar_member("manifest.json", bad.dump()) + tar_end(), "/files/0/name: expected a plain cache file name");
  expect_refused("this is not a tar file" + std::string(1000, 'x'), "bad header checksum");
}

}  // namespace
}  // namespace ct_test
