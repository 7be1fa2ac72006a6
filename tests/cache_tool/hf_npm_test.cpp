// The Hub's cache shared with a real Hub client: the npm package
// @huggingface/hub (tests/hf/npm, installed with `npm ci` into the build
// directory once, under a lock) downloads through the loopback Hub into the same cache as
// modelzoo, and each side finds the other's download without fetching it
// again; cache_tool lists a cache the client filled.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/fetch/hf.h"
#include "support/hub_server.h"
#include "support/process.h"
#include "tool_util.h"

namespace {

namespace mz = modelzoo;
using namespace ct_test;
using mz_test::HubServer;

/// NODE_PATH for the client, installing it on first use; "" with `*why` when it cannot be had.
std::string npm_modules(std::string* why) {
  for (const char* tool : {"node", "npm"}) {
    if (mz_test::run_command(std::string("command -v ") + tool + " >/dev/null 2>&1").exit_code != 0) {
      *why = std::string(tool) + " is not installed (scripts/setup.sh installs nodejs/npm with apt-get)";
      return "";
    }
  }
  const fs::path dir = fs::path(MZ_BINARY_DIR) / "hf-npm";
  const fs::path src = fs::path(MZ_SOURCE_DIR) / "tests" / "hf" / "npm";
  // Each test is its own process and ctest runs them in parallel: one installs, the others wait
  // for it. The stamp is written only after `npm ci` succeeded, so an interrupted install is redone.
  fs::create_directories(dir.parent_path());
  const mz::cache::EntryLock lock(dir);  // hf-npm.lock
  const fs::path stamp = dir / "installed-package-lock.json";
  const std::string wanted = read_file(src / "package-lock.json");
  if (!fs::exists(stamp) || read_file(stamp) != wanted) {
    fs::create_directories(dir);
    fs::remove(stamp);
    fs::copy_file(src / "package.json", dir / "package.json", fs::copy_options::overwrite_existing);
    fs::copy_file(src / "package-lock.json", dir / "package-lock.json", fs::copy_options::overwrite_existing);
    const auto r = mz_test::run_command("cd " + mz_test::shell_quote(dir.string()) +
                                        " && timeout 600 npm ci --no-audit --no-fund --loglevel=error 2>&1");
    EXPECT_EQ(r.exit_code, 0) << "npm ci failed in " << dir << ":\n" << r.out;
    if (r.exit_code != 0) return "";
    fs::copy_file(src / "package-lock.json", stamp, fs::copy_options::overwrite_existing);
  }
  return (dir / "node_modules").string();
}

json node(const std::string& modules, const std::string& endpoint, const std::string& args) {
  const std::string script = std::string(MZ_SOURCE_DIR) + "/tests/hf/npm/interop.cjs";
  const auto r = mz_test::run_command("NODE_PATH=" + mz_test::shell_quote(modules) + " HF_ENDPOINT=" +
                                      mz_test::shell_quote(endpoint) + " node " + mz_test::shell_quote(script) + " " +
                                      args + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const auto line = r.out.rfind('{');
  if (r.exit_code != 0 || line == std::string::npos) return json::object();
  return json::parse(r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
}

class HfNpm : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    modules_ = npm_modules(&why);
    if (modules_.empty() && !why.empty()) GTEST_SKIP() << "the Hub client interop test needs " << why;
    ASSERT_FALSE(modules_.empty());
    cache_ = hub_.nginx().scratch_dir("hf-cache");
    options_.hf.endpoints = {hub_.endpoint()};
  }
  HubServer hub_;
  std::string modules_;
  fs::path cache_;
  mz::fetch::FetchOptions options_;
};

TEST_F(HfNpm, ModelzooFindsTheClientsDownloadWithoutARequest) {
  const std::string bytes = random_bytes(3u << 20, 11);
  const std::string commit = hub_.commit("acme/npm-first", {{"model.safetensors", bytes, true}});
  hub_.apply();
  const json got = node(modules_, hub_.endpoint(),
                        "download acme/npm-first model.safetensors main " + mz_test::shell_quote(cache_.string()));
  ASSERT_TRUE(got.contains("path")) << got.dump();
  EXPECT_EQ(read_file(got["path"].get<std::string>()), bytes);
  const auto cdn_before = hub_.cdn_requests("/blobs/").size();
  const auto log_before = hub_.nginx().access_log().size();

  // Pinned to the commit: answered from the client's snapshot with no request at all.
  const mz::cache::HfCache hf(cache_);
  const auto pinned = mz::fetch::fetch_hub_file(
      mz::fetch::HubFile::parse("hf://acme/npm-first@" + commit + "/model.safetensors"), hf, options_);
  EXPECT_TRUE(pinned.resolved_offline);
  EXPECT_EQ(pinned.path, fs::path(got["path"].get<std::string>()));
  EXPECT_EQ(hub_.nginx().access_log().size(), log_before);
  // By branch: one HEAD to learn the commit, and no download.
  const auto by_branch =
      mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse("hf://acme/npm-first/model.safetensors"), hf, options_);
  EXPECT_FALSE(by_branch.downloaded);
  EXPECT_EQ(read_file(by_branch.path), bytes);
  EXPECT_EQ(hub_.cdn_requests("/blobs/").size(), cdn_before);

  // cache_tool lists the client's download.
  const auto run = run_tool({"--hf-cache-dir", cache_.string(), "--json", "list"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json doc = run.doc();
  bool listed = false;
  for (const auto& h : doc["hub"]) {
    if (h["repo"] == "acme/npm-first" && h["path"] == "model.safetensors" && h["commit"] == commit) {
      listed = true;
      EXPECT_EQ(h["size"], bytes.size());
    }
  }
  EXPECT_TRUE(listed) << doc["hub"].dump();
}

TEST_F(HfNpm, TheClientFindsModelzoosDownloadAndScansIt) {
  const std::string bytes = random_bytes(2u << 20, 12);
  const std::string commit = hub_.commit("acme/mz-first", {{"model.safetensors", bytes, true}});
  hub_.apply();
  const mz::cache::HfCache hf(cache_);
  const auto mine =
      mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse("hf://acme/mz-first/model.safetensors"), hf, options_);
  ASSERT_TRUE(mine.downloaded);
  const auto cdn_before = hub_.cdn_requests("/blobs/").size();
  const json got = node(modules_, hub_.endpoint(),
                        "download acme/mz-first model.safetensors main " + mz_test::shell_quote(cache_.string()));
  ASSERT_TRUE(got.contains("path")) << got.dump();
  EXPECT_EQ(fs::path(got["path"].get<std::string>()), mine.path);
  EXPECT_EQ(hub_.cdn_requests("/blobs/").size(), cdn_before);  // the client downloaded nothing

  const json scan = node(modules_, hub_.endpoint(), "scan " + mz_test::shell_quote(cache_.string()));
  EXPECT_TRUE(scan["warnings"].empty()) << scan.dump();
  bool found = false;
  for (const auto& r : scan["repos"]) {
    if (r["repo"] != "acme/mz-first") continue;
    found = true;
    EXPECT_EQ(r["size"], bytes.size());
    ASSERT_EQ(r["revisions"].size(), 1u);
    EXPECT_EQ(r["revisions"][0]["commit"], commit);
    EXPECT_EQ(r["revisions"][0]["refs"], json::array({"main"}));
    EXPECT_EQ(r["revisions"][0]["files"][0]["blob"], mine.blob.string());
  }
  EXPECT_TRUE(found) << scan.dump();
}

TEST_F(HfNpm, ACacheTheClientFilledIsVerifiedPackedAndUnpackedIntoOneTheClientAccepts) {
  const std::string bytes = random_bytes(1u << 20, 13);
  const std::string commit = hub_.commit("acme/npm-airgap", {{"model.safetensors", bytes, true}});
  hub_.apply();
  const json got = node(modules_, hub_.endpoint(),
                        "download acme/npm-airgap model.safetensors main " + mz_test::shell_quote(cache_.string()));
  ASSERT_TRUE(got.contains("path")) << got.dump();
  const std::string sha = HubServer::sha256_hex(bytes);

  // verify rehashes the client's blob against its name.
  auto run = run_tool({"--hf-cache-dir", cache_.string(), "--json", "verify", "hf://acme/npm-airgap"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  ASSERT_EQ(run.doc()["files"].size(), 1u) << run.out;
  EXPECT_EQ(run.doc()["files"][0]["status"], "ok");
  EXPECT_EQ(run.doc()["files"][0]["etag"], sha);

  // pack on this machine, unpack on an air-gapped one.
  const fs::path bundle = hub_.nginx().scratch_dir("npm-bundle") / "hub.tar";
  run = run_tool({"--hf-cache-dir", cache_.string(), "pack", "hf://acme/npm-airgap", "-o", bundle.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const fs::path other = hub_.nginx().scratch_dir("npm-unpacked");
  run = run_tool({"--hf-cache-dir", other.string(), "--offline", "unpack", bundle.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  // The client's scanner accepts the unpacked cache, and its download finds the file without fetching it.
  const json scan = node(modules_, hub_.endpoint(), "scan " + mz_test::shell_quote(other.string()));
  EXPECT_TRUE(scan["warnings"].empty()) << scan.dump();
  ASSERT_EQ(scan["repos"].size(), 1u) << scan.dump();
  EXPECT_EQ(scan["repos"][0]["repo"], "acme/npm-airgap");
  EXPECT_EQ(scan["repos"][0]["revisions"][0]["commit"], commit);
  EXPECT_EQ(scan["repos"][0]["revisions"][0]["refs"], json::array());  // downloadFileToCacheDir writes no ref
  const auto cdn_before = hub_.cdn_requests("/blobs/").size();
  const json again = node(modules_, hub_.endpoint(),
                          "download acme/npm-airgap model.safetensors main " + mz_test::shell_quote(other.string()));
  ASSERT_TRUE(again.contains("path")) << again.dump();
  EXPECT_EQ(read_file(again["path"].get<std::string>()), bytes);
  EXPECT_EQ(fs::path(again["path"].get<std::string>()).parent_path().parent_path().parent_path(),
            other / "models--acme--npm-airgap");
  EXPECT_EQ(hub_.cdn_requests("/blobs/").size(), cdn_before);

  // rm leaves a cache the client still scans cleanly (by commit: the client wrote no refs/main).
  run = run_tool({"--hf-cache-dir", other.string(), "rm", "hf://acme/npm-airgap@" + commit + "/model.safetensors"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json after = node(modules_, hub_.endpoint(), "scan " + mz_test::shell_quote(other.string()));
  EXPECT_TRUE(after["warnings"].empty()) << after.dump();
  EXPECT_TRUE(after["repos"].empty()) << after.dump();  // its only file gone, the repository went too
}

}  // namespace
