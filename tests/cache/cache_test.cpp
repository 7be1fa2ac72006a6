#include "modelzoo/cache/cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache/test_util.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace modelzoo::cache;
using namespace mz_cache_test;

std::string digest_of(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

Expectation expect_full(const std::string& content) {
  Expectation e;
  e.sha256 = digest_of(content);
  e.size = content.size();
  return e;
}

// ---------------------------------------------------------------------------
// Environment resolution

TEST(CacheOptions, EveryVariableCombinationFollowsTorchHubOrder) {
  const char* vars[] = {"MODELZOO_CACHE", "TORCH_HOME", "XDG_CACHE_HOME", "HOME"};
  const std::string values[] = {"/mz/cache", "/th", "/xdg", "/home/someone"};
  const passwd* pw = ::getpwuid(::getuid());
  ASSERT_NE(pw, nullptr);
  const std::string passwd_home = pw->pw_dir;
  for (int mask = 0; mask < 16; ++mask) {
    EnvGuard env;
    env.unset("MODELZOO_READONLY_CACHES");
    for (int i = 0; i < 4; ++i) {
      if (mask & (1 << i)) env.set(vars[i], values[i]);
      else env.unset(vars[i]);
    }
    fs::path expected;
    if (mask & 1) expected = "/mz/cache";
    else if (mask & 2) expected = "/th/hub/checkpoints";
    else if (mask & 4) expected = "/xdg/torch/hub/checkpoints";
    else if (mask & 8) expected = "/home/someone/.cache/torch/hub/checkpoints";
    else expected = fs::path(passwd_home) / ".cache/torch/hub/checkpoints";
    const CacheOptions o = CacheOptions::from_env();
    EXPECT_EQ(o.root, expected) << "variables set (bit mask) " << mask;
    EXPECT_TRUE(o.readonly_roots.empty());
    EXPECT_EQ(default_cache_root(), expected) << "variables set (bit mask) " << mask;
  }
}

TEST(CacheOptions, EmptyVariablesCountAsUnset) {
  EnvGuard env;
  env.set("MODELZOO_CACHE", "");
  env.set("TORCH_HOME", "");
  env.set("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(CacheOptions::from_env().root, fs::path("/xdg/torch/hub/checkpoints"));
}

TEST(CacheOptions, TildeIsExpanded) {
  EnvGuard env;
  env.set("HOME", "/home/tilde");
  env.unset("MODELZOO_CACHE");
  env.set("TORCH_HOME", "~/torchhome");
  EXPECT_EQ(CacheOptions::from_env().root, fs::path("/home/tilde/torchhome/hub/checkpoints"));
  env.set("MODELZOO_CACHE", "~/mz");
  EXPECT_EQ(CacheOptions::from_env().root, fs::path("/home/tilde/mz"));
}

TEST(CacheOptions, ReadonlyCachesAreColonSeparated) {
  EnvGuard env;
  env.set("MODELZOO_CACHE", "/rw");
  env.set("MODELZOO_READONLY_CACHES", "/ro/a::/ro/b:");
  const CacheOptions o = CacheOptions::from_env();
  ASSERT_EQ(o.readonly_roots.size(), 2u);
  EXPECT_EQ(o.readonly_roots[0], fs::path("/ro/a"));
  EXPECT_EQ(o.readonly_roots[1], fs::path("/ro/b"));
  const Cache cache(o);
  const std::vector<fs::path> expected = {"/ro/a", "/ro/b", "/rw"};
  EXPECT_EQ(cache.search_path(), expected);
}

// ---------------------------------------------------------------------------
// Names

TEST(CacheNames, PlainNamesMapIntoTheRoot) {
  const Cache cache(CacheOptions{"/c", {}});
  EXPECT_EQ(cache.target_path("vgg19-dcbb9e9d.pth"), fs::path("/c/vgg19-dcbb9e9d.pth"));
  EXPECT_EQ(cache.target_path("a b+c=d.safetensors"), fs::path("/c/a b+c=d.safetensors"));
}

TEST(CacheNames, UnsafeNamesAreRefusedWithTheName) {
  const Cache cache(CacheOptions{"/c", {}});
  const std::vector<std::string> bad = {"",          ".",          "..",        "../etc/passwd", "a/b",
                                        "a\\b",      ".hidden",    "x.part",    "x.lock",        "x.mzstamp",
                                        "x.part.meta", std::string("a\nb"), std::string(300, 'n')};
  for (const auto& name : bad) {
    try {
      (void)cache.target_path(name);
      ADD_FAILURE() << "accepted unsafe name '" << name << "'";
    } catch (const modelzoo::CacheError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("unsafe cache file name"), std::string::npos) << msg;
      if (name.size() < 100 && name.find('\n') == std::string::npos) {
        EXPECT_NE(msg.find("\"" + name + "\""), std::string::npos) << msg;
      }
    }
  }
}

TEST(CacheNames, AuxiliaryFilesAreRecognised) {
  EXPECT_TRUE(is_auxiliary_file("m.pth.mzstamp"));
  EXPECT_TRUE(is_auxiliary_file("m.pth.lock"));
  EXPECT_TRUE(is_auxiliary_file("m.pth.part"));
  EXPECT_TRUE(is_auxiliary_file("m.pth.part.meta"));
  EXPECT_TRUE(is_auxiliary_file("m.pth.mzstamp.123.0.mztmp"));
  EXPECT_FALSE(is_auxiliary_file("m.pth"));
  EXPECT_FALSE(is_auxiliary_file("partial.pth"));
}

TEST(CacheDigest, FullAndPrefixExpectations) {
  const std::string d = digest_of("abc");
  Expectation full{d, false, std::nullopt};
  EXPECT_TRUE(digest_matches(full, d));
  Expectation upper{"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", false, std::nullopt};
  EXPECT_TRUE(digest_matches(upper, d));
  Expectation prefix{"ba7816bf", true, std::nullopt};
  EXPECT_TRUE(digest_matches(prefix, d));
  Expectation wrong_prefix{"ba7816be", true, std::nullopt};
  EXPECT_FALSE(digest_matches(wrong_prefix, d));
  Expectation short_full{"ba7816bf", false, std::nullopt};
  EXPECT_FALSE(digest_matches(short_full, d));
  EXPECT_TRUE(digest_matches(Expectation{}, d));
}

// ---------------------------------------------------------------------------
// Stamps

TEST(CacheStamp, RoundTripAndInvalidation) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  const fs::path file = dir / "w.pth";
  write_bytes(file, "weights");
  EXPECT_FALSE(cache.read_stamp(file));
  cache.write_stamp(file, digest_of("weights"));
  ASSERT_TRUE(fs::exists(stamp_path(file)));
  EXPECT_EQ(cache.read_stamp(file), digest_of("weights"));

  // Same size, other mtime: the stamp no longer describes the file.
  timespec times[2] = {{0, UTIME_OMIT}, {1000000, 5}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  EXPECT_FALSE(cache.read_stamp(file));

  cache.write_stamp(file, digest_of("weights"));
  EXPECT_TRUE(cache.read_stamp(file));
  // Other size (append keeps nothing of the old identity).
  write_bytes(file, "weights, longer");
  EXPECT_FALSE(cache.read_stamp(file));
}

TEST(CacheStamp, StampOfDataNotYetOnDiskHoldsForThisBootOnly) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  const fs::path file = dir / "w.pth";
  write_bytes(file, "weights");
  cache.write_stamp(file, digest_of("weights"), /*durable=*/false);
  EXPECT_EQ(cache.read_stamp(file), digest_of("weights"));
  std::string boot;
  {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::getline(in, boot);
  }
  ASSERT_FALSE(boot.empty());
  auto stamp = nlohmann::json::parse(read_bytes(stamp_path(file)));
  EXPECT_EQ(stamp["boot_id"], boot);

  // As after a reboot: the stamp no longer counts, a lookup rehashes the file
  // and stamps it for good (its bytes were read back, so they are what is there).
  stamp["boot_id"] = "00000000-0000-0000-0000-000000000000";
  write_bytes(stamp_path(file), stamp.dump());
  EXPECT_FALSE(cache.read_stamp(file));
  Expectation e;
  e.sha256 = digest_of("weights");
  const Lookup l = cache.find("w.pth", e);
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_FALSE(nlohmann::json::parse(read_bytes(stamp_path(file))).contains("boot_id"));
  EXPECT_EQ(cache.read_stamp(file), digest_of("weights"));

  // The same after a "reboot" that changed the bytes (same size and mtime): refused.
  cache.write_stamp(file, digest_of("weights"), /*durable=*/false);
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.put('\0');
  }
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  EXPECT_EQ(cache.read_stamp(file), digest_of("weights"));  // same boot: the page cache is the truth
  stamp = nlohmann::json::parse(read_bytes(stamp_path(file)));
  stamp["boot_id"] = "another boot";
  write_bytes(stamp_path(file), stamp.dump());
  const Lookup damaged = cache.find("w.pth", e);
  EXPECT_EQ(damaged.state, EntryState::Unverified);
  EXPECT_TRUE(damaged.mismatch);
}

TEST(CacheStamp, DamagedStampsAreIgnored) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  const fs::path file = dir / "w.pth";
  write_bytes(file, "weights");
  for (const std::string& junk : {std::string("not json"), std::string("{}"), std::string("[1,2]"),
                                  std::string("{\"size\":\"x\",\"mtime_ns\":1,\"sha256\":\"ab\"}")}) {
    write_bytes(stamp_path(file), junk);
    EXPECT_FALSE(cache.read_stamp(file)) << junk;
  }
  // A well-formed stamp with a malformed digest is not trusted either.
  cache.write_stamp(file, "zz");
  EXPECT_FALSE(cache.read_stamp(file));
}

// ---------------------------------------------------------------------------
// Lookups

TEST(CacheFind, AbsentAndPartial) {
  TempDir dir;
  const Cache cache(CacheOptions{dir / "root", {}});
  EXPECT_EQ(cache.find("m.pth", expect_full("x")).state, EntryState::Absent);
  write_bytes(dir / "root/m.pth.part", "x");
  const Lookup l = cache.find("m.pth", expect_full("xy"));
  EXPECT_EQ(l.state, EntryState::Partial);
  EXPECT_EQ(l.path, dir / "root/m.pth.part");
}

TEST(CacheFind, UnstampedFileIsRehashedAndStamped) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  const std::string content = pseudo_random_bytes(5000, 1);
  write_bytes(dir / "m.pth", content);

  const Lookup unchecked = cache.find("m.pth", expect_full(content), /*verify_unstamped=*/false);
  EXPECT_EQ(unchecked.state, EntryState::Unverified);
  EXPECT_FALSE(unchecked.mismatch);
  EXPECT_FALSE(fs::exists(stamp_path(dir / "m.pth")));

  const Lookup l = cache.find("m.pth", expect_full(content));
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_EQ(l.sha256, digest_of(content));
  EXPECT_FALSE(l.readonly);
  EXPECT_EQ(cache.read_stamp(dir / "m.pth"), digest_of(content));
}

TEST(CacheFind, StampedHitDoesNotRehash) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  write_bytes(dir / "m.pth", "actual content");
  // A stamp recording a digest the content does not have: find() trusts it
  // (size and mtime match), which shows that a hit costs a stat, not a hash.
  const std::string recorded = std::string(64, 'a');
  cache.write_stamp(dir / "m.pth", recorded);
  Expectation e;
  e.sha256 = recorded;
  const Lookup l = cache.find("m.pth", e);
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_EQ(l.sha256, recorded);
}

// Bytes that change in place while size and mtime stay the same (bit rot,
// a faulty disk) keep a matching stamp: a default lookup trusts it and the
// file loads silently (docs/cache.md). verify_full (MODELZOO_VERIFY=full)
// rehashes on every lookup that may hash, finds the damage and drops the stamp.
TEST(CacheFind, VerifyFullCatchesBytesThatRotUnderAStamp) {
  TempDir dir;
  const std::string good = pseudo_random_bytes(100000, 5);
  write_bytes(dir / "m.pth", good);
  const Cache cache(CacheOptions{dir.path(), {}});
  ASSERT_EQ(cache.find("m.pth", expect_full(good)).state, EntryState::Verified);  // hashed and stamped
  ASSERT_TRUE(fs::exists(stamp_path(dir / "m.pth")));

  std::string rotten = good;
  rotten[54321] ^= 0x08;
  const auto mtime = fs::last_write_time(dir / "m.pth");
  {
    std::fstream f(dir / "m.pth", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(54321);
    f.put(rotten[54321]);
  }
  fs::last_write_time(dir / "m.pth", mtime);
  ASSERT_EQ(read_bytes(dir / "m.pth"), rotten);

  const Lookup trusted = cache.find("m.pth", expect_full(good));
  EXPECT_EQ(trusted.state, EntryState::Verified) << "the stamp (size + mtime) cannot see in-place damage";

  CacheOptions full{dir.path(), {}};
  full.verify_full = true;
  const Cache checking(full);
  // Listing (no hashing allowed) still answers from the stamp.
  EXPECT_EQ(checking.find("m.pth", expect_full(good), /*verify_unstamped=*/false).state, EntryState::Verified);
  const Lookup l = checking.find("m.pth", expect_full(good));
  EXPECT_EQ(l.state, EntryState::Unverified);
  EXPECT_TRUE(l.mismatch);
  EXPECT_EQ(l.actual_sha256, digest_of(rotten));
  EXPECT_FALSE(fs::exists(stamp_path(dir / "m.pth"))) << "a stamp that vouched for damaged bytes is removed";
  EXPECT_TRUE(cache.find("m.pth", expect_full(good)).mismatch) << "so a default lookup now rehashes too";

  // A sound file under verify_full: rehashed, Verified, its stamp left as it was.
  write_bytes(dir / "n.pth", good);
  ASSERT_EQ(cache.find("n.pth", expect_full(good)).state, EntryState::Verified);
  const std::string stamp_before = read_bytes(stamp_path(dir / "n.pth"));
  const auto stamp_mtime = fs::last_write_time(stamp_path(dir / "n.pth"));
  const Lookup ok = checking.find("n.pth", expect_full(good));
  EXPECT_EQ(ok.state, EntryState::Verified);
  EXPECT_EQ(ok.sha256, digest_of(good));
  EXPECT_EQ(read_bytes(stamp_path(dir / "n.pth")), stamp_before);
  EXPECT_EQ(fs::last_write_time(stamp_path(dir / "n.pth")), stamp_mtime);
}

TEST(CacheOptions, VerifyFullFromTheEnvironment) {
  EnvGuard env;
  env.set("MODELZOO_CACHE", "/rw");
  env.unset("MODELZOO_VERIFY");
  EXPECT_FALSE(CacheOptions::from_env().verify_full);
  env.set("MODELZOO_VERIFY", "full");
  EXPECT_TRUE(CacheOptions::from_env().verify_full);
  env.set("MODELZOO_VERIFY", "stamp");
  EXPECT_FALSE(CacheOptions::from_env().verify_full);
  env.set("MODELZOO_VERIFY", "");
  EXPECT_FALSE(CacheOptions::from_env().verify_full);
  env.set("MODELZOO_VERIFY", "always");
  try {
    CacheOptions::from_env();
    ADD_FAILURE() << "expected a CacheError";
  } catch (const modelzoo::CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("MODELZOO_VERIFY: expected \"full\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("got \"always\""), std::string::npos) << e.what();
  }
}

TEST(CacheFind, MismatchingFileIsReportedNotStamped) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  write_bytes(dir / "m.pth", "wrong bytes");
  const Lookup l = cache.find("m.pth", expect_full("right bytes"));
  EXPECT_EQ(l.state, EntryState::Unverified);
  EXPECT_TRUE(l.mismatch);
  EXPECT_EQ(l.actual_sha256, digest_of("wrong bytes"));
  EXPECT_FALSE(fs::exists(stamp_path(dir / "m.pth")));

  // A size difference is a mismatch found without hashing.
  const Lookup sized = cache.find("m.pth", expect_full("other length!"));
  EXPECT_TRUE(sized.mismatch);
  EXPECT_TRUE(sized.actual_sha256.empty());
}

TEST(CacheFind, PrefixExpectationMatches) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  write_bytes(dir / "m-abc.pth", "abc");
  Expectation e;
  e.sha256 = digest_of("abc").substr(0, 8);
  e.sha256_is_prefix = true;
  const Lookup l = cache.find("m-abc.pth", e);
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_EQ(l.sha256, digest_of("abc"));
}

TEST(CacheFind, ReadonlyRootHitWritesNothing) {
  TempDir dir;
  const std::string content = pseudo_random_bytes(2048, 9);
  write_bytes(dir / "ro/m.pth", content);
  const auto before = listing(dir / "ro");
  const Cache cache(CacheOptions{dir / "rw", {dir / "ro"}});
  for (int i = 0; i < 2; ++i) {
    const Lookup l = cache.find("m.pth", expect_full(content));
    EXPECT_EQ(l.state, EntryState::Verified);
    EXPECT_TRUE(l.readonly);
    EXPECT_EQ(l.path, dir / "ro/m.pth");
  }
  EXPECT_EQ(listing(dir / "ro"), before);
  EXPECT_FALSE(fs::exists(dir / "rw"));
}

TEST(CacheFind, ReadonlyStampBesideTheFileIsUsed) {
  TempDir dir;
  write_bytes(dir / "ro/m.pth", "content");
  const Cache writer(CacheOptions{dir / "ro", {}});
  const std::string recorded(64, 'b');
  writer.write_stamp(dir / "ro/m.pth", recorded);  // e.g. stamped by whoever filled the shared cache
  const Cache cache(CacheOptions{dir / "rw", {dir / "ro"}});
  Expectation e;
  e.sha256 = recorded;
  const Lookup l = cache.find("m.pth", e);
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_TRUE(l.readonly);
}

TEST(CacheFind, SearchOrderAndFallThroughOnMismatch) {
  TempDir dir;
  write_bytes(dir / "ro1/m.pth", "wrong");
  write_bytes(dir / "ro2/m.pth", "right");
  write_bytes(dir / "rw/m.pth", "right");
  const Cache cache(CacheOptions{dir / "rw", {dir / "ro1", dir / "ro2"}});
  const Lookup l = cache.find("m.pth", expect_full("right"));
  EXPECT_EQ(l.state, EntryState::Verified);
  EXPECT_EQ(l.path, dir / "ro2/m.pth");

  const Cache rw_only(CacheOptions{dir / "rw", {dir / "ro1"}});
  const Lookup l2 = rw_only.find("m.pth", expect_full("right"));
  EXPECT_EQ(l2.state, EntryState::Verified);
  EXPECT_EQ(l2.path, dir / "rw/m.pth");
  EXPECT_FALSE(l2.readonly);

  // Only a wrong read-only copy: reported as a mismatch there.
  const Cache ro_wrong(CacheOptions{dir / "empty", {dir / "ro1"}});
  const Lookup l3 = ro_wrong.find("m.pth", expect_full("right"));
  EXPECT_EQ(l3.state, EntryState::Unverified);
  EXPECT_TRUE(l3.mismatch);
  EXPECT_TRUE(l3.readonly);
  EXPECT_FALSE(fs::exists(stamp_path(dir / "ro1/m.pth")));
}

// ---------------------------------------------------------------------------
// Listing, removal, locks

TEST(CacheList, ListsFilesAndPartialsButNoSideFiles) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  write_bytes(dir / "b.pth", "bb");
  write_bytes(dir / "a.pth", "a");
  cache.write_stamp(dir / "a.pth", digest_of("a"));
  write_bytes(dir / "c.pth.part", "ccc");
  write_bytes(dir / "c.pth.part.meta", "{}");
  write_bytes(dir / "b.pth.lock", "");
  const auto files = cache.list();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].file_name, "a.pth");
  EXPECT_EQ(files[0].sha256, digest_of("a"));
  EXPECT_EQ(files[1].file_name, "b.pth");
  EXPECT_EQ(files[1].size, 2u);
  EXPECT_FALSE(files[1].sha256);
  EXPECT_EQ(files[2].file_name, "c.pth");
  EXPECT_TRUE(files[2].partial);

  EXPECT_TRUE(Cache(CacheOptions{dir / "missing", {}}).list().empty());
}

TEST(CacheList, RemoveDeletesTheFileAndItsSideFiles) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  write_bytes(dir / "a.pth", "a");
  cache.write_stamp(dir / "a.pth", digest_of("a"));
  write_bytes(dir / "a.pth.part", "a");
  EXPECT_TRUE(cache.remove("a.pth"));
  EXPECT_FALSE(fs::exists(dir / "a.pth"));
  EXPECT_FALSE(fs::exists(stamp_path(dir / "a.pth")));
  EXPECT_FALSE(fs::exists(dir / "a.pth.part"));
  EXPECT_FALSE(cache.remove("a.pth"));
}

TEST(CacheLock, SecondHolderWaitsForTheFirst) {
  TempDir dir;
  const fs::path file = dir / "sub/m.pth";
  std::atomic<bool> second_acquired{false};
  std::thread t;
  {
    EntryLock first(file);
    EXPECT_TRUE(fs::exists(dir / "sub/m.pth.lock"));
    t = std::thread([&] {
      EntryLock second(file);
      second_acquired = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_FALSE(second_acquired.load());
  }
  t.join();
  EXPECT_TRUE(second_acquired.load());
}

TEST(CacheLock, UnwritableDirectoryIsACacheErrorNamingThePath) {
  TempDir dir;
  write_bytes(dir / "file", "not a directory");
  try {
    EntryLock lock(dir / "file/m.pth");
    FAIL() << "expected CacheError";
  } catch (const modelzoo::CacheError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "file").string()), std::string::npos) << e.what();
  }
}

}  // namespace
