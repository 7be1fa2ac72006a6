// The Hugging Face Hub's cache layout on its own (no network): where the
// root is, the names of repositories, blobs, snapshot entries, refs and
// locks, ETag normalisation, relative links for nested paths, refs for
// branches but not commits, lookups through read-only roots, blob stamps,
// scanning, removal, maintenance and staged blobs.
#include "modelzoo/cache/hf_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "cache/test_util.h"
#include "modelzoo/cache/maintenance.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace modelzoo::cache;
using namespace mz_cache_test;
using modelzoo::CacheError;
using modelzoo::HashMismatchError;

constexpr const char* kCommitA = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kCommitB = "89abcdef0123456789abcdef0123456789abcdef";

std::string digest_of(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

ByteSource bytes_source(const std::string& bytes) {
  auto pos = std::make_shared<std::size_t>(0);
  return [bytes, pos](char* buf, std::size_t n) {
    const std::size_t k = std::min(n, bytes.size() - *pos);
    std::copy(bytes.data() + *pos, bytes.data() + *pos + k, buf);
    *pos += k;
    return k;
  };
}

/// Sets a file's modification time `seconds` into the past.
void age(const fs::path& p, int seconds) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::seconds(seconds));
}

class HfCacheTest : public ::testing::Test {
 protected:
  /// Puts `bytes` as blob `etag` of `repo` and links `path` of `commit` to it.
  fs::path put(const std::string& repo, const std::string& commit, const std::string& path, const std::string& bytes,
               std::string etag = "") {
    if (etag.empty()) etag = digest_of(bytes);
    write_bytes(hf_.blob_path(repo, etag), bytes);
    hf_.link(repo, commit, path, etag);
    return hf_.pointer_path(repo, commit, path);
  }
  TempDir tmp_;
  HfCache hf_{tmp_.path() / "hub"};
};

TEST(HfCacheRoot, FollowsHuggingFaceHubsEnvironmentOrder) {
  EnvGuard env;
  env.set("HOME", "/home/someone");
  for (const char* v : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) env.unset(v);
  EXPECT_EQ(default_hf_cache_root(), fs::path("/home/someone/.cache/huggingface/hub"));
  env.set("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(default_hf_cache_root(), fs::path("/xdg/huggingface/hub"));
  env.set("HF_HOME", "~/hf");
  EXPECT_EQ(default_hf_cache_root(), fs::path("/home/someone/hf/hub"));
  env.set("HUGGINGFACE_HUB_CACHE", "/legacy");
  EXPECT_EQ(default_hf_cache_root(), fs::path("/legacy"));
  env.set("HF_HUB_CACHE", "/data/hub");
  EXPECT_EQ(default_hf_cache_root(), fs::path("/data/hub"));
  EXPECT_EQ(CacheOptions::from_env().hf_root, fs::path("/data/hub"));
}

TEST(HfCacheNames, EtagNormalisationAsHuggingFaceHub) {
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("abc"), "abc");
  EXPECT_EQ(normalize_etag("W/abc"), "abc");
  EXPECT_EQ(normalize_etag("\"\""), "");
  EXPECT_EQ(normalize_etag(""), "");
  const std::string sha(64, 'a');
  EXPECT_EQ(normalize_etag("\"" + sha + "\""), sha);
}

TEST(HfCacheNames, CommitsRepositoriesRevisionsPathsAndEtagsAreChecked) {
  EXPECT_TRUE(is_commit_hash(kCommitA));
  EXPECT_FALSE(is_commit_hash("main"));
  EXPECT_FALSE(is_commit_hash(std::string(40, 'A')));  // upper case is a branch name, not a commit
  EXPECT_FALSE(is_commit_hash(std::string(39, 'a')));

  EXPECT_EQ(hf_repo_folder("timm/resnet50.a1_in1k"), "models--timm--resnet50.a1_in1k");
  for (const char* bad : {"timm", "a/b/c", "/b", "a/", "a--b/c", "a/b..c", ".a/b", "-a/b", "a/b c", "a/b\\c"}) {
    EXPECT_THROW(check_repo_id(bad), CacheError) << bad;
  }
  EXPECT_NO_THROW(check_revision("refs/pr/1"));
  EXPECT_NO_THROW(check_revision("v1.0"));
  for (const char* bad : {"", "a//b", "../x", "a/./b", "a\\b", "a\nb"}) EXPECT_THROW(check_revision(bad), CacheError) << bad;
  EXPECT_NO_THROW(check_repo_path("dir/sub/file name.bin"));
  for (const char* bad : {"", "/etc/passwd", "a/../b", "./a", "a//b", "a\\b", "a\tb"}) {
    EXPECT_THROW(check_repo_path(bad), CacheError) << bad;
  }
  EXPECT_NO_THROW(check_etag(std::string(64, 'f')));
  EXPECT_NO_THROW(check_etag("0d3f5f6a9b-2"));
  for (const char* bad : {"", ".hidden", "a/b", "abc.incomplete", "a b", "\"abc\""}) {
    EXPECT_THROW(check_etag(bad), CacheError) << bad;
  }
}

TEST_F(HfCacheTest, LayoutPathsAreHuggingFaceHubs) {
  const fs::path root = tmp_.path() / "hub";
  const std::string sha(64, 'b');
  EXPECT_EQ(hf_.repo_dir("acme/net"), root / "models--acme--net");
  EXPECT_EQ(hf_.blob_path("acme/net", sha), root / "models--acme--net" / "blobs" / sha);
  EXPECT_EQ(hf_.pointer_path("acme/net", kCommitA, "dir/model.bin"),
            root / "models--acme--net" / "snapshots" / kCommitA / "dir" / "model.bin");
  EXPECT_EQ(hf_.lock_target("acme/net", sha), root / ".locks" / "models--acme--net" / sha);
  EXPECT_EQ(hf_.blob_stamp_path("acme/net", sha), root / ".locks" / "models--acme--net" / (sha + ".mzstamp"));
  EXPECT_THROW(hf_.blob_path("acme/net", "../x"), CacheError);
  EXPECT_THROW(hf_.pointer_path("acme/net", kCommitA, "../../x"), CacheError);
}

TEST_F(HfCacheTest, SnapshotLinksAreRelativeWithOneDotDotPerLevel) {
  const std::string bytes = "weights";
  const std::string sha = digest_of(bytes);
  const fs::path top = put("acme/net", kCommitA, "model.bin", bytes);
  const fs::path nested = put("acme/net", kCommitA, "a/b/c/model.bin", bytes);
  EXPECT_EQ(fs::read_symlink(top), fs::path("../../blobs/" + sha));
  EXPECT_EQ(fs::read_symlink(nested), fs::path("../../../../../blobs/" + sha));
  EXPECT_EQ(read_bytes(nested), bytes);

  // Relative: the cache still works after it is moved.
  const fs::path moved = tmp_.path() / "moved";
  fs::rename(tmp_.path() / "hub", moved);
  EXPECT_EQ(read_bytes(moved / "models--acme--net" / "snapshots" / kCommitA / "a/b/c/model.bin"), bytes);
  fs::rename(moved, tmp_.path() / "hub");

  // Linking again replaces the entry (a file, or a link to another blob), leaving no temporary behind.
  const std::string other = "other weights";
  write_bytes(hf_.blob_path("acme/net", digest_of(other)), other);
  hf_.link("acme/net", kCommitA, "model.bin", digest_of(other));
  EXPECT_EQ(read_bytes(top), other);
  EXPECT_EQ(listing(top.parent_path()), (std::vector<std::string>{"a", "model.bin"}));
}

TEST_F(HfCacheTest, RefsAreWrittenForBranchesAndTagsButNotForCommits) {
  const fs::path refs = hf_.repo_dir("acme/net") / "refs";
  hf_.write_ref("acme/net", "main", kCommitA);
  EXPECT_EQ(read_bytes(refs / "main"), kCommitA);  // no newline, as huggingface_hub writes it
  EXPECT_EQ(hf_.read_ref("acme/net", "main"), kCommitA);
  hf_.write_ref("acme/net", "refs/pr/1", kCommitB);
  EXPECT_EQ(read_bytes(refs / "refs" / "pr" / "1"), kCommitB);
  hf_.write_ref("acme/net", kCommitB, kCommitB);
  EXPECT_FALSE(fs::exists(refs / kCommitB));
  EXPECT_THROW(hf_.write_ref("acme/net", "main", "not-a-commit"), CacheError);

  // A ref another tool wrote with a trailing newline reads the same; garbage reads as none.
  write_bytes(refs / "v1", std::string(kCommitB) + "\n");
  EXPECT_EQ(hf_.read_ref("acme/net", "v1"), kCommitB);
  write_bytes(refs / "bad", "hello");
  EXPECT_EQ(hf_.read_ref("acme/net", "bad"), std::nullopt);
  EXPECT_EQ(hf_.read_ref("acme/net", "absent"), std::nullopt);

  // Moving the branch rewrites the file; an unchanged commit leaves it alone.
  struct stat before {};
  ASSERT_EQ(::stat((refs / "main").c_str(), &before), 0);
  hf_.write_ref("acme/net", "main", kCommitA);
  struct stat same {};
  ASSERT_EQ(::stat((refs / "main").c_str(), &same), 0);
  EXPECT_EQ(same.st_ino, before.st_ino);
  hf_.write_ref("acme/net", "main", kCommitB);
  EXPECT_EQ(hf_.read_ref("acme/net", "main"), kCommitB);
}

TEST_F(HfCacheTest, FindResolvesCommitsAndRefsAndSeesBrokenLinks) {
  const std::string bytes = "abc";
  put("acme/net", kCommitA, "model.bin", bytes);
  auto l = hf_.find("acme/net", kCommitA, "model.bin");
  EXPECT_EQ(l.state, HfLookup::State::Present);
  EXPECT_EQ(l.commit, kCommitA);
  EXPECT_EQ(l.etag, digest_of(bytes));
  EXPECT_EQ(l.blob, fs::canonical(hf_.blob_path("acme/net", digest_of(bytes))));
  EXPECT_FALSE(l.readonly);

  EXPECT_EQ(hf_.find("acme/net", "main", "model.bin").state, HfLookup::State::Absent);  // no ref yet
  hf_.write_ref("acme/net", "main", kCommitA);
  EXPECT_EQ(hf_.find("acme/net", "main", "model.bin").state, HfLookup::State::Present);
  EXPECT_EQ(hf_.find("acme/net", "main", "other.bin").state, HfLookup::State::Absent);

  fs::remove(hf_.blob_path("acme/net", digest_of(bytes)));
  l = hf_.find("acme/net", "main", "model.bin");
  EXPECT_EQ(l.state, HfLookup::State::BrokenLink);
  EXPECT_EQ(l.pointer, hf_.pointer_path("acme/net", kCommitA, "model.bin"));
}

TEST_F(HfCacheTest, ReadOnlyRootsAreSearchedFirstAndNeverWritten) {
  const fs::path shared = tmp_.path() / "shared";
  HfCache filler(shared);
  const std::string bytes = "shared weights";
  const std::string sha = digest_of(bytes);
  write_bytes(filler.blob_path("acme/net", sha), bytes);
  filler.link("acme/net", kCommitA, "model.bin", sha);
  filler.write_ref("acme/net", "main", kCommitA);

  const HfCache hf(tmp_.path() / "hub", {shared});
  const auto l = hf.find("acme/net", "main", "model.bin");
  ASSERT_EQ(l.state, HfLookup::State::Present);
  EXPECT_TRUE(l.readonly);
  EXPECT_EQ(l.root, shared);
  // Checking a read-only blob hashes it and stamps nothing, anywhere.
  EXPECT_EQ(hf.check_blob("acme/net", sha, l.blob), BlobCheck::Verified);
  EXPECT_FALSE(fs::exists(shared / ".locks"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "hub"));
  // A writable copy is found when the read-only one is gone.
  fs::remove_all(shared);
  EXPECT_EQ(hf.find("acme/net", "main", "model.bin").state, HfLookup::State::Absent);
}

TEST_F(HfCacheTest, BlobChecksUseStampsInLocksAndRehashWhenTheyDoNotHold) {
  const std::string bytes = pseudo_random_bytes(5000, 3);
  const std::string sha = digest_of(bytes);
  put("acme/net", kCommitA, "model.bin", bytes);
  const fs::path blob = hf_.blob_path("acme/net", sha);
  EXPECT_EQ(hf_.check_blob("acme/net", sha, blob), BlobCheck::Verified);
  const fs::path stamp = hf_.blob_stamp_path("acme/net", sha);
  ASSERT_TRUE(fs::exists(stamp));  // beside the lock, not in blobs/
  EXPECT_EQ(listing(blob.parent_path()), std::vector<std::string>{sha});
  EXPECT_EQ(read_stamp_file(stamp, blob), sha);

  // Rot with the same size and mtime: the stamp vouches for it, unless verify_full.
  std::string rotten = bytes;
  rotten[10] ^= 1;
  const auto mtime = fs::last_write_time(blob);
  write_bytes(blob, rotten);
  fs::last_write_time(blob, mtime);
  EXPECT_EQ(hf_.check_blob("acme/net", sha, blob), BlobCheck::Verified);
  const HfCache full(tmp_.path() / "hub", {}, /*verify_full=*/true);
  EXPECT_EQ(full.check_blob("acme/net", sha, blob), BlobCheck::Mismatch);
  // Any change of mtime voids the stamp: the blob is hashed again.
  age(blob, 60);
  EXPECT_EQ(hf_.check_blob("acme/net", sha, blob), BlobCheck::Mismatch);

  // A blob named by a git id cannot be hashed against its name.
  const std::string git_id(40, 'c');
  write_bytes(hf_.blob_path("acme/net", git_id), "config");
  EXPECT_EQ(hf_.check_blob("acme/net", git_id, hf_.blob_path("acme/net", git_id)), BlobCheck::Unchecked);
}

TEST_F(HfCacheTest, ScanListsRevisionsRefsFilesAndLeftovers) {
  const std::string a = "aaaa", b = "bbbbbb";
  put("acme/net", kCommitA, "model.bin", a);
  put("acme/net", kCommitA, "sub/config.json", b, std::string(40, 'd'));
  put("acme/net", kCommitB, "model.bin", a);
  hf_.write_ref("acme/net", "main", kCommitB);
  hf_.write_ref("acme/net", "v1", kCommitA);
  write_bytes(hf_.blob_path("acme/net", std::string(64, 'e')), "orphan");
  write_bytes(hf_.repo_dir("acme/net") / "blobs" / (std::string(64, 'f') + ".incomplete"), "part");
  put("zeta/other", kCommitA, "w.bin", "zzz");
  fs::remove(hf_.blob_path("zeta/other", digest_of("zzz")));
  fs::create_directories(tmp_.path() / "hub" / "datasets--x--y");  // not a model repository: skipped

  const auto repos = hf_.scan();
  ASSERT_EQ(repos.size(), 2u);
  const auto& r = repos[0];
  EXPECT_EQ(r.repo, "acme/net");
  ASSERT_EQ(r.revisions.size(), 2u);
  EXPECT_EQ(r.revisions[0].commit, kCommitA);
  EXPECT_EQ(r.revisions[0].refs, std::vector<std::string>{"v1"});
  ASSERT_EQ(r.revisions[0].files.size(), 2u);
  EXPECT_EQ(r.revisions[0].files[0].path, "model.bin");
  EXPECT_EQ(r.revisions[0].files[0].etag, digest_of(a));
  EXPECT_EQ(r.revisions[0].files[0].size, a.size());
  EXPECT_EQ(r.revisions[0].files[1].path, "sub/config.json");
  EXPECT_EQ(r.revisions[0].files[1].etag, std::string(40, 'd'));
  EXPECT_EQ(r.revisions[1].refs, std::vector<std::string>{"main"});
  EXPECT_EQ(r.unreferenced_blobs, std::vector<std::string>{std::string(64, 'e')});
  EXPECT_EQ(r.incomplete, std::vector<std::string>{std::string(64, 'f') + ".incomplete"});
  EXPECT_EQ(r.blob_bytes, a.size() + b.size() + std::string("orphan").size());
  EXPECT_EQ(repos[1].repo, "zeta/other");
  ASSERT_EQ(repos[1].revisions.size(), 1u);
  EXPECT_TRUE(repos[1].revisions[0].files[0].broken);
}

TEST_F(HfCacheTest, RemovingAFileKeepsABlobAnotherSnapshotUses) {
  const std::string a = "shared", b = "own";
  put("acme/net", kCommitA, "model.bin", a);
  put("acme/net", kCommitA, "dir/extra.bin", b);
  put("acme/net", kCommitB, "model.bin", a);
  hf_.write_ref("acme/net", "main", kCommitB);
  hf_.write_ref("acme/net", "old", kCommitA);

  EXPECT_EQ(hf_.remove_file("acme/net", "main", "model.bin"), 1u);  // the link only: kCommitA still uses the blob
  EXPECT_TRUE(fs::exists(hf_.blob_path("acme/net", digest_of(a))));
  EXPECT_FALSE(fs::exists(hf_.repo_dir("acme/net") / "snapshots" / kCommitB));  // the empty snapshot went
  EXPECT_FALSE(fs::exists(hf_.repo_dir("acme/net") / "refs" / "main"));         // and the ref naming it
  EXPECT_EQ(hf_.read_ref("acme/net", "old"), kCommitA);

  EXPECT_EQ(hf_.remove_file("acme/net", kCommitA, "dir/extra.bin"), 2u);  // link and its blob
  EXPECT_FALSE(fs::exists(hf_.blob_path("acme/net", digest_of(b))));
  EXPECT_FALSE(fs::exists(hf_.repo_dir("acme/net") / "snapshots" / kCommitA / "dir"));
  EXPECT_EQ(hf_.remove_file("acme/net", kCommitA, "dir/extra.bin"), 0u);
  EXPECT_EQ(hf_.remove_file("acme/net", "absent-branch", "model.bin"), 0u);

  // A revision, then the whole repository with its locks.
  EXPECT_EQ(hf_.remove("acme/net", "old"), 2u);
  EXPECT_FALSE(fs::exists(hf_.blob_path("acme/net", digest_of(a))));
  put("acme/net", kCommitA, "model.bin", a);
  hf_.check_blob("acme/net", digest_of(a), hf_.blob_path("acme/net", digest_of(a)));
  EXPECT_EQ(hf_.remove("acme/net"), 2u);
  EXPECT_FALSE(fs::exists(hf_.repo_dir("acme/net")));
  EXPECT_FALSE(fs::exists(tmp_.path() / "hub" / ".locks" / "models--acme--net"));
}

TEST_F(HfCacheTest, MaintenanceRemovesOnlyWhatNobodyUses) {
  const std::string repo = "acme/net";
  put(repo, kCommitA, "model.bin", "used");
  const fs::path blobs = hf_.repo_dir(repo) / "blobs";
  const std::string held(64, '1'), stale(64, '2'), fresh(64, '3'), orphan(64, '4');
  for (const auto& e : {held, stale, fresh}) write_bytes(blobs / (e + ".incomplete"), "partial");
  write_bytes(fs::path(hf_.lock_target(repo, stale).string() + ".lock"), "");
  write_bytes(fs::path(hf_.lock_target(repo, stale).string() + ".incomplete.meta"), "{}");
  age(blobs / (fresh + ".incomplete"), 10);  // no lock file, written just now: maybe a client without locks
  write_bytes(blobs / orphan, "nobody points here");
  write_bytes(blobs / (orphan + ".999999999.0.mztmp"), "temp of a dead process");
  EntryLock lock(hf_.lock_target(repo, held));  // a download in progress

  // Dry runs list and touch nothing.
  EXPECT_EQ(hf_.remove_stale_incomplete(/*dry_run=*/true).size(), 2u);
  EXPECT_EQ(hf_.remove_unreferenced_blobs(/*dry_run=*/true), std::vector<fs::path>{blobs / orphan});
  EXPECT_TRUE(fs::exists(blobs / orphan));

  const auto gone = hf_.remove_stale_incomplete();
  EXPECT_EQ(gone, (std::vector<fs::path>{blobs / (stale + ".incomplete"), blobs / (orphan + ".999999999.0.mztmp")}));
  EXPECT_TRUE(fs::exists(blobs / (held + ".incomplete")));
  EXPECT_TRUE(fs::exists(blobs / (fresh + ".incomplete")));
  EXPECT_FALSE(fs::exists(hf_.lock_target(repo, stale).string() + ".incomplete.meta"));
  age(blobs / (fresh + ".incomplete"), 3600);
  EXPECT_EQ(hf_.remove_stale_incomplete(), std::vector<fs::path>{blobs / (fresh + ".incomplete")});

  EXPECT_EQ(hf_.remove_unreferenced_blobs(), std::vector<fs::path>{blobs / orphan});
  EXPECT_TRUE(fs::exists(hf_.blob_path(repo, digest_of("used"))));

  // Locks: the held one stays; free ones, stamps of gone blobs and orphaned resume records go.
  hf_.check_blob(repo, digest_of("used"), hf_.blob_path(repo, digest_of("used")));
  const fs::path locks = tmp_.path() / "hub" / ".locks" / "models--acme--net";
  write_bytes(locks / (orphan + ".mzstamp"), "{}");
  write_bytes(locks / (orphan + ".incomplete.meta"), "{}");
  const auto freed = hf_.remove_stale_locks();
  for (const auto& p : freed) EXPECT_NE(p.filename().string(), held + ".lock") << p;
  EXPECT_TRUE(fs::exists(locks / (held + ".lock")));
  EXPECT_TRUE(fs::exists(locks / (digest_of("used") + ".mzstamp")));
  EXPECT_FALSE(fs::exists(locks / (orphan + ".mzstamp")));
  EXPECT_FALSE(fs::exists(locks / (orphan + ".incomplete.meta")));
  EXPECT_FALSE(fs::exists(locks / (stale + ".lock")));
}

TEST_F(HfCacheTest, StagedBlobsAreVerifiedBeforeTheyGetTheirName) {
  const std::string repo = "acme/net";
  const std::string bytes = pseudo_random_bytes(10000, 5);
  const std::string sha = digest_of(bytes);
  const fs::path blobs = hf_.repo_dir(repo) / "blobs";

  // The content must hash to an LFS blob's name.
  EXPECT_THROW(hf_.stage_blob(repo, std::string(64, 'a'), {}, bytes_source(bytes), "x"), HashMismatchError);
  Expectation short_size;
  short_size.size = 10;
  EXPECT_THROW(hf_.stage_blob(repo, sha, short_size, bytes_source(bytes), "x"), HashMismatchError);
  EXPECT_TRUE(listing(blobs).empty());  // nothing left behind

  write_bytes(blobs / (sha + ".incomplete"), "an interrupted download of the same blob");
  {
    auto staged = hf_.stage_blob(repo, sha, {}, bytes_source(bytes), "x");
    EXPECT_FALSE(fs::exists(hf_.blob_path(repo, sha)));
    EXPECT_EQ(staged.sha256(), sha);
    EXPECT_EQ(staged.publish(), hf_.blob_path(repo, sha));
  }
  EXPECT_EQ(read_bytes(hf_.blob_path(repo, sha)), bytes);
  EXPECT_EQ(listing(blobs), std::vector<std::string>{sha});
  EXPECT_EQ(read_stamp_file(hf_.blob_stamp_path(repo, sha), hf_.blob_path(repo, sha)), sha);

  // A git-id blob is checked against the expected SHA-256; an unpublished one is removed.
  const std::string git_id(40, '7');
  Expectation e;
  e.sha256 = digest_of("config");
  { auto dropped = hf_.stage_blob(repo, git_id, e, bytes_source("config"), "config"); }
  EXPECT_EQ(listing(blobs), std::vector<std::string>{sha});
  EXPECT_THROW(hf_.stage_blob(repo, git_id, e, bytes_source("other"), "config"), HashMismatchError);
}

}  // namespace
