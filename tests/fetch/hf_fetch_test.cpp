// hf:// sources against a loopback Hub (tests/support/hub_server.h): the
// resolve protocol and its headers, the token and the CDN, the Hub's cache
// layout, revisions that move, offline resolution, healing, two processes.
#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/hf.h"
#include "support/hub_server.h"

namespace {

namespace fs = std::filesystem;
namespace mz = modelzoo;
using ::testing::HasSubstr;
using ::testing::Not;
using mz_test::HubServer;
using mz_test::HubTestFile;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class HfFetch : public mz_test::HubSuite {
 protected:
  void SetUp() override {
    root_ = hub_->nginx().scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()) / "hub";
    fs::remove_all(root_);
    options_.hf.endpoints = {hub_->endpoint()};
    options_.hf.token.clear();
    options_.max_attempts = 2;
    options_.backoff_initial_seconds = 0.01;
  }
  mz::cache::HfCache cache() const { return mz::cache::HfCache(root_); }
  mz::fetch::HubFetchResult fetch(const std::string& uri) {
    return mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse(uri), cache(), options_);
  }
  std::string error_of(const std::string& uri) {
    try {
      fetch(uri);
    } catch (const mz::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << uri << " did not fail";
    return "";
  }
  fs::path root_;
  mz::fetch::FetchOptions options_;
};

TEST_F(HfFetch, LfsFileComesFromTheCdnIntoTheHubLayout) {
  const std::string weights = random_bytes(300000, 1), config = "{\"architecture\": \"resnet50\"}\n";
  const std::string commit = hub_->commit("acme/layout", {{"model.safetensors", weights, true},
                                                          {"config.json", config, false}});
  hub_->apply();
  const auto r = fetch("hf://acme/layout/model.safetensors");
  const std::string sha = HubServer::sha256_hex(weights);
  const fs::path repo = root_ / "models--acme--layout";
  EXPECT_EQ(r.commit, commit);
  EXPECT_EQ(r.etag, sha);
  EXPECT_EQ(r.path, repo / "snapshots" / commit / "model.safetensors");
  EXPECT_TRUE(fs::is_symlink(r.path));
  EXPECT_EQ(fs::read_symlink(r.path), fs::path("../../blobs/" + sha));  // relative
  EXPECT_EQ(read_file(r.path), weights);
  EXPECT_EQ(read_file(repo / "refs" / "main"), commit);  // no newline, as huggingface_hub writes it
  EXPECT_TRUE(fs::exists(root_ / ".locks" / "models--acme--layout" / (sha + ".lock")));
  EXPECT_FALSE(fs::exists(repo / "blobs" / (sha + ".incomplete")));
  EXPECT_TRUE(r.downloaded);

  // A small file kept in git: named by its git blob id, served by the Hub itself.
  const auto c = fetch("hf://acme/layout/config.json");
  EXPECT_EQ(c.etag, HubServer::git_blob_id(config));
  EXPECT_EQ(read_file(c.path), config);
  EXPECT_EQ(hub_->cdn_requests("/blobs/").size(), 1u);  // only the LFS file went through the CDN
  for (const auto& e : hub_->hub_requests("/acme/layout/")) EXPECT_EQ(e.method == "HEAD" || e.method == "GET", true);
}

TEST_F(HfFetch, NestedPathsGetOneDotDotPerLevel) {
  const std::string bytes = random_bytes(1000, 2);
  const std::string commit = hub_->commit("acme/nested", {{"sub/dir/w.bin", bytes, true}});
  hub_->apply();
  const auto r = fetch("hf://acme/nested/sub/dir/w.bin");
  EXPECT_EQ(fs::read_symlink(r.path), fs::path("../../../../blobs/" + HubServer::sha256_hex(bytes)));
  EXPECT_EQ(read_file(r.path), bytes);
  (void)commit;
}

TEST_F(HfFetch, TheTokenGoesToTheHubAndNeverToTheCdn) {
  const std::string bytes = random_bytes(5000, 3);
  hub_->commit("acme/gated", {{"w.bin", bytes, true}});
  hub_->set_gated("acme/gated", "hf_secret");
  hub_->apply();
  const std::string e = error_of("hf://acme/gated/w.bin");
  EXPECT_THAT(e, HasSubstr("acme/gated is a gated repository"));
  EXPECT_THAT(e, HasSubstr("no token was sent"));
  EXPECT_THAT(e, HasSubstr("HTTP 401"));

  options_.hf.token = "hf_secret";
  options_.hf.token_origin = "HF_TOKEN";
  const auto r = fetch("hf://acme/gated/w.bin");
  EXPECT_EQ(read_file(r.path), bytes);
  const auto hub = hub_->hub_requests("/acme/gated/");
  ASSERT_FALSE(hub.empty());
  EXPECT_EQ(hub.back().authorization, "Bearer hf_secret");
  const auto cdn = hub_->cdn_requests("/blobs/" + HubServer::sha256_hex(bytes));
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].authorization, "");  // dropped on the way to another host

  options_.hf.token = "wrong";
  fs::remove_all(root_);
  EXPECT_THAT(error_of("hf://acme/gated/w.bin"), HasSubstr("the token from HF_TOKEN was sent"));
}

TEST_F(HfFetch, MissingRepositoryRevisionAndFileSayWhich) {
  hub_->commit("acme/present", {{"w.bin", "abc", true}});
  hub_->apply();
  EXPECT_THAT(error_of("hf://acme/absent/w.bin"),
              HasSubstr("repository acme/absent not found at " + hub_->endpoint() + ", or it is private or gated"));
  EXPECT_THAT(error_of("hf://acme/present@v9/w.bin"), HasSubstr("acme/present has no revision \"v9\""));
  EXPECT_THAT(error_of("hf://acme/present/nothing.bin"), HasSubstr("acme/present has no file \"nothing.bin\""));
  EXPECT_FALSE(fs::exists(root_ / "models--acme--present" / "snapshots"));
}

TEST_F(HfFetch, HeaderCases) {
  const std::string bytes = "weights kept by a proxy";
  hub_->nginx().write_file("odd/w.bin", bytes);
  const std::string root = hub_->nginx().docroot().string();
  const std::string commit(40, 'c');
  const std::string sha = HubServer::sha256_hex(bytes);
  std::string loc;
  // A weak ETag with quotes on a 200 answer (no redirect): normalised, size from Content-Length.
  loc += "location = /odd/weak/resolve/main/w.bin { etag off; add_header X-Repo-Commit " + commit +
         " always; add_header ETag 'W/\"" + sha + "\"' always; alias " + root + "/odd/w.bin; }\n";
  // No X-Repo-Commit: not the Hub.
  loc += "location = /odd/nocommit/resolve/main/w.bin { alias " + root + "/odd/w.bin; }\n";
  // No ETag at all.
  loc += "location = /odd/noetag/resolve/main/w.bin { etag off; add_header X-Repo-Commit " + commit +
         " always; alias " + root + "/odd/w.bin; }\n";
  // A redirect without X-Linked-Size.
  loc += "location = /odd/nosize/resolve/main/w.bin { add_header X-Repo-Commit " + commit +
         " always; add_header X-Linked-Etag '\"" + sha + "\"' always; return 302 " + hub_->cdn() + "/blobs/" + sha +
         "; }\n";
  // A relative redirect (a renamed repository) is followed on the same host.
  loc += "location = /odd/renamed/resolve/main/w.bin { return 307 /odd/weak/resolve/main/w.bin; }\n";
  // An ETag that claims another SHA-256 than the bytes have.
  loc += "location = /odd/liar/resolve/main/w.bin { etag off; add_header X-Repo-Commit " + commit +
         " always; add_header ETag '\"" + std::string(64, 'a') + "\"' always; alias " + root + "/odd/w.bin; }\n";
  hub_->add_locations(loc);
  hub_->apply();

  const auto weak = fetch("hf://odd/weak/w.bin");
  EXPECT_EQ(weak.etag, sha);
  EXPECT_EQ(weak.commit, commit);
  EXPECT_EQ(read_file(weak.path), bytes);
  EXPECT_THAT(error_of("hf://odd/nocommit/w.bin"), HasSubstr("no commit id (X-Repo-Commit)"));
  EXPECT_THAT(error_of("hf://odd/noetag/w.bin"), HasSubstr("no ETag (X-Linked-Etag or ETag)"));
  EXPECT_THAT(error_of("hf://odd/nosize/w.bin"), HasSubstr("no size (X-Linked-Size or Content-Length)"));
  const auto renamed = fetch("hf://odd/renamed/w.bin");
  EXPECT_EQ(read_file(renamed.path), bytes);
  EXPECT_EQ(renamed.path, root_ / "models--odd--renamed" / "snapshots" / commit / "w.bin");
  const std::string liar = error_of("hf://odd/liar/w.bin");
  EXPECT_THAT(liar, HasSubstr("sha256 mismatch"));
  EXPECT_FALSE(fs::exists(root_ / "models--odd--liar" / "blobs" / std::string(64, 'a')));
}

TEST_F(HfFetch, ARevisionThatMovedBetweenTwoRuns) {
  const std::string v1 = random_bytes(20000, 4), v2 = random_bytes(20000, 5);
  const std::string c1 = hub_->commit("acme/moving", {{"w.bin", v1, true}});
  hub_->apply();
  const auto first = fetch("hf://acme/moving/w.bin");
  EXPECT_EQ(first.commit, c1);
  const std::string c2 = hub_->commit("acme/moving", {{"w.bin", v2, true}});
  hub_->apply();
  const auto second = fetch("hf://acme/moving/w.bin");
  EXPECT_EQ(second.commit, c2);
  EXPECT_EQ(read_file(second.path), v2);
  EXPECT_EQ(read_file(root_ / "models--acme--moving" / "refs" / "main"), c2);
  EXPECT_EQ(read_file(first.path), v1);  // the old snapshot still holds the old file
  // The old commit, pinned, comes from the cache without a request.
  const auto before = hub_->hub_requests("/acme/moving/").size();
  const auto pinned = fetch("hf://acme/moving@" + c1 + "/w.bin");
  EXPECT_EQ(read_file(pinned.path), v1);
  EXPECT_TRUE(pinned.resolved_offline);
  EXPECT_EQ(hub_->hub_requests("/acme/moving/").size(), before);
}

TEST_F(HfFetch, OfflineResolvesFromRefsAndNeverTouchesTheNetwork) {
  const std::string bytes = random_bytes(10000, 6);
  const std::string commit = hub_->commit("acme/offline", {{"w.bin", bytes, true}}, "main");
  hub_->set_branch("acme/offline", "v1.0", commit);
  hub_->apply();
  fetch("hf://acme/offline/w.bin");
  const auto before = hub_->nginx().access_log().size();
  options_.hf.offline = true;
  const auto r = fetch("hf://acme/offline/w.bin");
  EXPECT_EQ(r.commit, commit);
  EXPECT_TRUE(r.resolved_offline);
  EXPECT_EQ(read_file(r.path), bytes);
  // A tag never resolved online has no ref: offline mode says so.
  const std::string e = error_of("hf://acme/offline@v1.0/w.bin");
  EXPECT_THAT(e, HasSubstr("HF_HUB_OFFLINE"));
  EXPECT_THAT(e, HasSubstr("no refs/v1.0"));
  EXPECT_THAT(e, HasSubstr("cache_tool fetch hf://acme/offline@v1.0/w.bin"));
  options_.hf.offline = false;
  options_.offline = true;
  options_.offline_origin = "MODELZOO_OFFLINE";
  EXPECT_EQ(read_file(fetch("hf://acme/offline/w.bin").path), bytes);
  EXPECT_EQ(hub_->nginx().access_log().size(), before);
}

TEST_F(HfFetch, AnUnreachableHubFallsBackToTheCachedRevision) {
  const std::string bytes = random_bytes(4000, 7);
  hub_->commit("acme/fallback", {{"w.bin", bytes, true}});
  hub_->apply();
  fetch("hf://acme/fallback/w.bin");
  options_.hf.endpoints = {"http://127.0.0.1:9"};  // nothing listens on the discard port
  options_.max_attempts = 1;
  const auto r = fetch("hf://acme/fallback/w.bin");
  EXPECT_EQ(read_file(r.path), bytes);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_THAT(r.warnings[0], HasSubstr("using the cached"));
  // An endpoint tried first (a mirror) that fails moves on to the next one.
  fs::remove_all(root_);
  options_.hf.endpoints = {"http://127.0.0.1:9", hub_->endpoint()};
  const auto m = fetch("hf://acme/fallback/w.bin");
  EXPECT_EQ(read_file(m.path), bytes);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_THAT(m.warnings[0], HasSubstr("skipped an endpoint"));
}

TEST_F(HfFetch, ADeletedBlobAndABrokenSnapshotLinkAreHealed) {
  const std::string bytes = random_bytes(50000, 8);
  const std::string sha = HubServer::sha256_hex(bytes);
  hub_->commit("acme/heal", {{"w.bin", bytes, true}});
  hub_->apply();
  const auto r = fetch("hf://acme/heal/w.bin");
  fs::remove(r.blob);
  EXPECT_EQ(cache().find("acme/heal", "main", "w.bin").state, mz::cache::HfLookup::State::BrokenLink);
  const auto healed = fetch("hf://acme/heal/w.bin");
  EXPECT_TRUE(healed.downloaded);
  EXPECT_EQ(read_file(healed.path), bytes);

  // A snapshot entry pointing somewhere else entirely is replaced.
  fs::remove(healed.path);
  fs::create_symlink("../../blobs/0000000000000000000000000000000000000000000000000000000000000000", healed.path);
  const auto relinked = fetch("hf://acme/heal/w.bin");
  EXPECT_EQ(fs::read_symlink(relinked.path), fs::path("../../blobs/" + sha));
  EXPECT_FALSE(relinked.downloaded);  // the blob was there

  // A blob whose bytes rotted (same size, no stamp): rehashed, found wrong, downloaded again.
  fs::remove(cache().blob_stamp_path("acme/heal", sha));
  {
    std::ofstream out(relinked.blob, std::ios::binary | std::ios::in);
    out.seekp(100);
    out.put('\x42');
  }
  const auto again = fetch("hf://acme/heal/w.bin");
  EXPECT_TRUE(again.downloaded);
  EXPECT_EQ(read_file(again.path), bytes);
}

TEST_F(HfFetch, TwoProcessesFetchingTheSameFileMakeOneDownload) {
  const std::string bytes = random_bytes(24u << 20, 9);
  hub_->commit("acme/twice", {{"model.safetensors", bytes, true}});
  hub_->apply();
  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        fetch("hf://acme/twice/model.safetensors");
      } catch (...) {
        code = 3;
      }
      ::_exit(code);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  uint64_t sent = 0;
  for (const auto& e : hub_->cdn_requests("/blobs/" + HubServer::sha256_hex(bytes))) sent += e.body_bytes;
  EXPECT_EQ(sent, bytes.size());  // one download (possibly as parallel ranges), not two
  const auto r = fetch("hf://acme/twice/model.safetensors");
  EXPECT_FALSE(r.downloaded);
  EXPECT_EQ(fs::file_size(r.path), bytes.size());
}

/// Every file below `dir` with its size and modification time, to show that nothing was written there.
std::map<std::string, std::pair<uint64_t, int64_t>> tree_state(const fs::path& dir) {
  std::map<std::string, std::pair<uint64_t, int64_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0) continue;
    out[e.path().lexically_relative(dir).string()] = {static_cast<uint64_t>(st.st_size),
                                                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL +
                                                          st.st_mtim.tv_nsec};
  }
  return out;
}

TEST_F(HfFetch, AKilledDownloadIsResumedFromTheIncompleteBlob) {
  const std::string bytes = random_bytes(8u << 20, 21);
  const std::string sha = HubServer::sha256_hex(bytes);
  hub_->commit("acme/killed", {{"model.safetensors", bytes, true}});
  hub_->set_cdn_rate("2m");  // about 4 s for the whole file: time to kill it midway
  hub_->apply();
  const fs::path incomplete = root_ / "models--acme--killed" / "blobs" / (sha + ".incomplete");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    options_.connections = 1;
    try {
      fetch("hf://acme/killed/model.safetensors");
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::error_code ec;
  while (std::chrono::steady_clock::now() < deadline &&
         (!fs::exists(incomplete, ec) || fs::file_size(incomplete, ec) < (2u << 20))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the download ended before it could be killed";
  const uint64_t kept = fs::file_size(incomplete);
  ASSERT_GE(kept, 2u << 20);
  ASSERT_LT(kept, bytes.size());
  EXPECT_FALSE(fs::exists(root_ / "models--acme--killed" / "blobs" / sha));  // nothing unverified under the blob name

  hub_->set_cdn_rate("");
  hub_->apply();
  const auto r = fetch("hf://acme/killed/model.safetensors");
  EXPECT_TRUE(r.downloaded);
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.bytes_reused, kept);
  EXPECT_EQ(r.sha256, sha);
  EXPECT_EQ(read_file(r.path), bytes);
  EXPECT_FALSE(fs::exists(incomplete));
  uint64_t sent = 0;
  bool ranged = false;
  for (const auto& e : hub_->cdn_requests("/blobs/" + sha)) {
    sent += e.body_bytes;
    ranged = ranged || e.range.rfind("bytes=" + std::to_string(kept) + "-", 0) == 0;
  }
  RecordProperty("kept_bytes", std::to_string(kept));
  RecordProperty("cdn_bytes_served", std::to_string(sent));
  RecordProperty("file_bytes", std::to_string(bytes.size()));
  EXPECT_TRUE(ranged) << "the rerun did not ask for the missing part only";
  EXPECT_LT(static_cast<double>(sent), 1.3 * static_cast<double>(bytes.size())) << sent << " bytes served";
  // The blob is verified: its stamp says so, and it hashes to its name.
  EXPECT_EQ(cache().check_blob("acme/killed", sha, r.blob), mz::cache::BlobCheck::Verified);
  EXPECT_EQ(mz::cache::sha256_file(r.blob), sha);
}

TEST_F(HfFetch, AFileInAReadOnlyHubCacheIsUsedWithNoRequestAndNothingWritten) {
  const std::string bytes = random_bytes(200000, 22);
  hub_->commit("acme/shared", {{"model.safetensors", bytes, true}});
  hub_->apply();
  const fs::path shared = root_.parent_path() / "shared-hub";
  fs::remove_all(shared);
  const auto filled = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse("hf://acme/shared/model.safetensors"),
                                                mz::cache::HfCache(shared), options_);
  ASSERT_TRUE(filled.downloaded);
  const auto before = tree_state(shared);
  const auto log_before = hub_->nginx().access_log().size();

  // As MODELZOO_READONLY_CACHES gives it: read-only roots of the cache options.
  ::setenv("MODELZOO_READONLY_CACHES", shared.c_str(), 1);
  ::setenv("HF_HUB_CACHE", root_.c_str(), 1);
  auto copts = mz::cache::CacheOptions::from_env();
  ::unsetenv("MODELZOO_READONLY_CACHES");
  ::unsetenv("HF_HUB_CACHE");
  const mz::cache::HfCache hf(copts);
  ASSERT_EQ(hf.root(), root_);
  ASSERT_EQ(hf.readonly_roots(), std::vector<fs::path>{shared});
  for (const char* uri : {"hf://acme/shared/model.safetensors", "hf://acme/shared@main/model.safetensors"}) {
    const auto r = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse(uri), hf, options_);
    EXPECT_FALSE(r.downloaded) << uri;
    EXPECT_TRUE(r.resolved_offline) << uri;
    EXPECT_EQ(r.path, filled.path) << uri;
    EXPECT_EQ(read_file(r.path), bytes) << uri;
  }
  EXPECT_EQ(hub_->nginx().access_log().size(), log_before);  // no request at all
  EXPECT_EQ(tree_state(shared), before);                     // nothing written there
  EXPECT_FALSE(fs::exists(root_));                           // nor in the writable cache

  // A damaged copy in the read-only cache is not used: the file is downloaded into the writable cache.
  std::string damaged = bytes;
  damaged[100] ^= 1;
  {
    std::ofstream(filled.blob, std::ios::binary | std::ios::trunc) << damaged;
  }
  const auto healed = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse("hf://acme/shared/model.safetensors"), hf,
                                                options_);
  EXPECT_TRUE(healed.downloaded);
  EXPECT_EQ(healed.path.string().rfind(root_.string(), 0), 0u) << healed.path;
  EXPECT_EQ(read_file(healed.path), bytes);
  EXPECT_EQ(read_file(filled.blob), damaged);  // the read-only copy is left as it is
}

TEST(HubFile, ParsesAndRefusesSources) {
  const auto f = mz::fetch::HubFile::parse("hf://timm/resnet50.a1_in1k/model.safetensors");
  EXPECT_EQ(f.repo, "timm/resnet50.a1_in1k");
  EXPECT_EQ(f.revision, "main");
  EXPECT_EQ(f.path, "model.safetensors");
  EXPECT_EQ(f.resolve_url("https://huggingface.co"),
            "https://huggingface.co/timm/resnet50.a1_in1k/resolve/main/model.safetensors");
  const auto pr = mz::fetch::HubFile::parse("hf://org/name@refs%2Fpr%2F1/dir/file name.bin");
  EXPECT_EQ(pr.revision, "refs/pr/1");
  EXPECT_EQ(pr.resolve_url("http://h"), "http://h/org/name/resolve/refs%2Fpr%2F1/dir/file%20name.bin");
  EXPECT_EQ(pr.uri(), "hf://org/name@refs%2Fpr%2F1/dir/file name.bin");
  for (const char* bad : {"hf://", "hf://org", "hf://org/name", "hf://org/name/", "hf://org/na--me/f",
                          "hf://org/name/../etc/passwd", "hf://org/name@/f", "hf://org/name/a//b", "http://x/y/z"}) {
    EXPECT_THROW(mz::fetch::HubFile::parse(bad), mz::FetchError) << bad;
  }
  EXPECT_EQ(mz::cache::normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(mz::cache::normalize_etag("\"abc\""), "abc");
}

}  // namespace
