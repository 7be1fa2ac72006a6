// cache_tool on the Hugging Face Hub's cache (--hf-cache-dir): verify
// rehashes blobs against their names and says which snapshot files use a bad
// one, rm removes files, revisions and repositories, prune removes what
// interrupted downloads and unused blobs leave, pack / unpack carry blobs,
// snapshot links and refs to another machine. The cache is filled through the
// loopback Hub (tests/support/hub_server.h).
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/fetch/hf.h"
#include "support/hub_server.h"
#include "tool_util.h"

namespace {

namespace mz = modelzoo;
using namespace ct_test;
using mz_test::HubServer;
using ::testing::HasSubstr;

class HfTool : public mz_test::HubSuite {
 protected:
  void SetUp() override {
    hf_dir_ = box_.dir() / "hub";
    options_.hf.endpoints = {hub_->endpoint()};
    options_.max_attempts = 1;
  }
  mz::fetch::HubFetchResult fetch(const std::string& uri) {
    return mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse(uri), mz::cache::HfCache(hf_dir_), options_);
  }
  /// cache_tool with this test's caches and the loopback Hub as HF_ENDPOINT.
  ToolRun tool(std::vector<std::string> args, Env env = {}) const {
    args.insert(args.begin(), {"--hf-cache-dir", hf_dir_.string()});
    env["HF_ENDPOINT"] = hub_->endpoint();
    return box_.tool(args, env);
  }
  fs::path repo_dir(const std::string& repo) const { return mz::cache::HfCache(hf_dir_).repo_dir(repo); }

  Sandbox box_;
  fs::path hf_dir_;
  mz::fetch::FetchOptions options_;
};

/// The result items of a verify document that are Hub blobs.
std::vector<json> hub_results(const json& doc) {
  std::vector<json> out;
  for (const auto& f : doc["files"]) {
    if (f.value("kind", "") == "hub") out.push_back(f);
  }
  return out;
}

TEST_F(HfTool, VerifyRehashesBlobsAndNamesTheSnapshotFilesOfABadOne) {
  const std::string weights = random_bytes(200000, 31), config = "{\"num_classes\": 10}\n";
  const std::string c1 = hub_->commit("acme/verify", {{"model.safetensors", weights, true}, {"config.json", config, false}});
  const std::string c2 = hub_->commit("acme/verify", {{"model.safetensors", weights, true}});  // same blob
  hub_->apply();
  const auto r = fetch("hf://acme/verify@" + c1 + "/model.safetensors");
  fetch("hf://acme/verify@" + c1 + "/config.json");
  fetch("hf://acme/verify/model.safetensors");  // main = c2

  auto run = tool({"--json", "verify"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  const json listed = run.doc();
  auto results = hub_results(listed);
  ASSERT_EQ(results.size(), 2u) << run.out;
  for (const auto& f : results) {
    if (f["etag"] == r.etag) {
      EXPECT_EQ(f["status"], "ok");
      EXPECT_EQ(f["snapshots"].size(), 2u);
    } else {
      EXPECT_EQ(f["status"], "unknown");  // a git blob id names the config: nothing to compare its SHA-256 with
      EXPECT_EQ(f["etag"], HubServer::git_blob_id(config));
    }
  }

  // Damage the blob (same size): verify names both snapshot files that point at it.
  std::string damaged = weights;
  damaged[5000] ^= 0x40;
  write_file(r.blob, damaged);
  run = tool({"verify", "hf://acme/verify"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("MISMATCH " + r.blob.string()));
  EXPECT_THAT(run.err, HasSubstr("hf://acme/verify@" + c1 + "/model.safetensors"));
  EXPECT_THAT(run.err, HasSubstr("hf://acme/verify@" + c2 + "/model.safetensors"));
  EXPECT_THAT(run.err, HasSubstr("expected sha256 " + r.etag));

  // --repair downloads it again (by commit); then everything verifies.
  run = tool({"--json", "verify", "--repair", "hf://acme/verify"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_EQ(read_file(r.blob), weights);
  run = tool({"verify", "hf://acme/verify@" + c2 + "/model.safetensors"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("ok       " + r.blob.string()));

  // A broken snapshot link is reported; offline, --repair removes the links of a bad blob.
  fs::remove(r.blob);
  run = tool({"verify", "hf://acme/verify@" + c2});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("points at a blob that is gone"));
  write_file(r.blob, damaged);
  run = tool({"--offline", "--json", "verify", "--repair", "hf://acme/verify@" + c1 + "/model.safetensors"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(fs::exists(r.blob));
  EXPECT_FALSE(fs::exists(fs::symlink_status(repo_dir("acme/verify") / "snapshots" / c1 / "model.safetensors")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(repo_dir("acme/verify") / "snapshots" / c2 / "model.safetensors")));
  EXPECT_TRUE(fs::exists(repo_dir("acme/verify") / "snapshots" / c1 / "config.json"));
  // Something that is not there at all.
  run = tool({"verify", "hf://acme/never-fetched/model.safetensors"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("ABSENT"));
}

TEST_F(HfTool, RmRemovesAFileARevisionOrARepository) {
  const std::string a = random_bytes(50000, 32), b = random_bytes(60000, 33);
  const std::string c1 = hub_->commit("acme/rm", {{"model.safetensors", a, true}, {"extra/b.bin", b, true}});
  const std::string c2 = hub_->commit("acme/rm", {{"model.safetensors", a, true}});
  hub_->apply();
  fetch("hf://acme/rm@" + c1 + "/model.safetensors");
  const auto rb = fetch("hf://acme/rm@" + c1 + "/extra/b.bin");
  const auto ra = fetch("hf://acme/rm/model.safetensors");

  // A file whose blob another revision still uses: only the link goes.
  auto run = tool({"--json", "rm", "hf://acme/rm@" + c1 + "/model.safetensors"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.doc()["results"][0]["files_removed"], 1);
  EXPECT_TRUE(fs::exists(ra.blob));
  // A file of its own: link and blob.
  run = tool({"--json", "rm", "hf://acme/rm@" + c1 + "/extra/b.bin"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.doc()["results"][0]["files_removed"], 2);
  EXPECT_FALSE(fs::exists(rb.blob));
  EXPECT_FALSE(fs::exists(repo_dir("acme/rm") / "snapshots" / c1));
  // Absent now: exit 1 with a message naming the Hub cache.
  run = tool({"rm", "hf://acme/rm@" + c1 + "/extra/b.bin"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("is not in the Hub cache"));
  // A revision by branch name (its ref goes too), then the repository.
  run = tool({"rm", "hf://acme/rm@main"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(fs::exists(repo_dir("acme/rm") / "refs" / "main"));
  EXPECT_FALSE(fs::exists(ra.blob));
  fetch("hf://acme/rm/model.safetensors");
  run = tool({"rm", "hf://acme/rm"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(fs::exists(repo_dir("acme/rm")));
  EXPECT_FALSE(fs::exists(hf_dir_ / ".locks" / "models--acme--rm"));
  EXPECT_EQ(tool({"rm", "hf://not a repo"}).exit_code, 2);
}

TEST_F(HfTool, PruneRemovesStaleIncompleteBlobsUnreferencedBlobsAndFreeLocks) {
  const std::string a = random_bytes(40000, 34);
  hub_->commit("acme/prune", {{"model.safetensors", a, true}});
  hub_->apply();
  const auto r = fetch("hf://acme/prune/model.safetensors");
  const fs::path blobs = repo_dir("acme/prune") / "blobs";
  const fs::path locks = hf_dir_ / ".locks" / "models--acme--prune";
  const std::string stale(64, '5'), orphan(64, '6'), busy(64, '7');
  write_file(blobs / (stale + ".incomplete"), "half a download");
  write_file(locks / (stale + ".lock"), "");
  write_file(blobs / orphan, "a blob no snapshot points at");
  write_file(blobs / (busy + ".incomplete"), "being written");
  mz::cache::EntryLock held(locks / busy);  // another process's download in progress

  auto run = tool({"--json", "prune", "--partials", "--unreferenced", "--stale-locks", "--dry-run"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(blobs / (stale + ".incomplete")));
  EXPECT_TRUE(fs::exists(blobs / orphan));

  run = tool({"--json", "prune", "--partials", "--unreferenced", "--stale-locks"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> removed;
  const json doc = run.doc();
  for (const auto& e : doc["removed"]) removed.insert(e["path"].get<std::string>());
  EXPECT_TRUE(removed.count((blobs / (stale + ".incomplete")).string())) << run.out;
  EXPECT_TRUE(removed.count((blobs / orphan).string())) << run.out;
  EXPECT_TRUE(removed.count((locks / (stale + ".lock")).string())) << run.out;
  EXPECT_FALSE(fs::exists(blobs / (stale + ".incomplete")));
  EXPECT_FALSE(fs::exists(blobs / orphan));
  EXPECT_TRUE(fs::exists(blobs / (busy + ".incomplete")));  // its lock is held
  EXPECT_TRUE(fs::exists(locks / (busy + ".lock")));
  EXPECT_EQ(read_file(r.path), a);  // what snapshots use stays
  EXPECT_TRUE(fs::exists(locks / (r.etag + ".mzstamp")));
}

TEST_F(HfTool, PackAndUnpackCarryBlobsSnapshotLinksAndRefs) {
  const std::string weights = random_bytes(300000, 35), config = "{\"label_names\": [\"a\", \"b\"]}\n";
  const std::string commit = hub_->commit("acme/airgap", {{"model.safetensors", weights, true},
                                                          {"config.json", config, false}});
  hub_->apply();
  const auto r = fetch("hf://acme/airgap/model.safetensors");
  fetch("hf://acme/airgap/config.json");
  const fs::path bundle = box_.dir() / "hub.tar";
  auto run = tool({"--json", "pack", "hf://acme/airgap", "-o", bundle.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json packed = run.doc();
  ASSERT_EQ(packed["hub"].size(), 1u);
  EXPECT_EQ(packed["hub"][0]["refs"]["main"], commit);
  EXPECT_EQ(packed["hub"][0]["blobs"].size(), 2u);
  EXPECT_EQ(packed["hub"][0]["snapshots"].size(), 2u);

  // Another machine: an empty Hub cache, offline.
  const fs::path other = box_.dir() / "other-hub";
  run = box_.tool({"--hf-cache-dir", other.string(), "--offline", "--json", "unpack", bundle.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const mz::cache::HfCache there(other);
  EXPECT_EQ(there.read_ref("acme/airgap", "main"), commit);
  const fs::path pointer = there.pointer_path("acme/airgap", commit, "model.safetensors");
  EXPECT_EQ(fs::read_symlink(pointer), fs::path("../../blobs/" + r.etag));
  EXPECT_EQ(read_file(pointer), weights);
  EXPECT_EQ(read_file(there.pointer_path("acme/airgap", commit, "config.json")), config);
  EXPECT_EQ(read_file(there.blob_path("acme/airgap", HubServer::git_blob_id(config))), config);
  // The unpacked cache serves offline with no request.
  const auto log_before = hub_->nginx().access_log().size();
  auto offline = options_;
  offline.offline = true;
  const auto got = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse("hf://acme/airgap/model.safetensors"), there,
                                             offline);
  EXPECT_EQ(got.path, pointer);
  EXPECT_EQ(hub_->nginx().access_log().size(), log_before);
  // Unpacking again finds everything present.
  run = box_.tool({"--hf-cache-dir", other.string(), "--json", "unpack", bundle.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json again = run.doc();
  for (const auto& b : again["hub"][0]["blobs"]) EXPECT_EQ(b["status"], "present");

  // A bundle whose blob bytes were changed is refused, and nothing is written.
  std::string tar = read_file(bundle);
  const auto at = tar.find(weights.substr(1000, 64));
  ASSERT_NE(at, std::string::npos);
  tar[at] ^= 1;
  const fs::path bad = box_.dir() / "bad.tar";
  write_file(bad, tar);
  const fs::path third = box_.dir() / "third-hub";
  run = box_.tool({"--hf-cache-dir", third.string(), "unpack", bad.string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("sha256 mismatch"));
  EXPECT_THAT(files_under(third), ::testing::Each(::testing::Not(HasSubstr("snapshots"))));
  EXPECT_THAT(files_under(third), ::testing::Each(::testing::Not(HasSubstr(r.etag))));

  // pack of something the Hub cache lacks writes nothing.
  run = tool({"pack", "hf://acme/none", "-o", (box_.dir() / "none.tar").string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("hf://acme/none (absent from the Hub cache)"));
  EXPECT_FALSE(fs::exists(box_.dir() / "none.tar"));
}

}  // namespace
