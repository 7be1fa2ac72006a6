// The hub's pretrained path against a registry value that rests on a single
// public source: a file that fails it is refused (also when it matches the
// prefix in its name) with the advice of registry::explain_mismatch; with
// HubOptions::cache.verify_full a file that rotted under its stamp is caught.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/hub/hub.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

std::string hex_of(const std::string& bytes) {
  modelzoo::cache::Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string hub_error(const modelzoo::HubOptions& o) {
  try {
    modelzoo::fetch_weights("pinned_net", modelzoo::Weights::default_weights(), o);
  } catch (const modelzoo::HashMismatchError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a HashMismatchError";
  return "";
}

}  // namespace

TEST(HubPinned, SingleSourceMismatchIsRefusedWithAdvice) {
  mz_test::TempDir dir("mz_hub_pinned_");
  const std::string bytes(4096, 'w');
  const std::string digest = hex_of(bytes);
  const fs::path src = dir / ("src/pinned_net-" + digest.substr(0, 8) + ".pth");
  write(src, bytes);
  modelzoo::HubOptions o;
  o.registry = modelzoo::registry::Registry::builtin();
  o.registry.add_json(json({{"format_version", 1},
                            {"models",
                             {{"pinned_net",
                               {{"arch", "vgg11"},
                                {"weights",
                                 {{"V1",
                                   {{"url", "file://" + src.string()},
                                    {"sha256", digest.substr(0, 8) + std::string(56, '0')},
                                    {"hash_confidence", "single_source"}}}}}}}}}})
                          .dump(),
                      "user.json");
  o.cache.root = dir / "cache";
  o.fetch.max_attempts = 1;
  const std::string msg = hub_error(o);
  EXPECT_THAT(msg, HasSubstr("rests on a single public source"));
  EXPECT_THAT(msg, HasSubstr("does match the hash prefix in its name"));
  EXPECT_THAT(msg, HasSubstr("--sha256 " + digest));
  EXPECT_FALSE(fs::exists(o.cache.root / src.filename()));

  // Pinning the file's own hash (only that field) accepts it.
  o.registry.add_json(json({{"format_version", 1},
                            {"models", {{"pinned_net", {{"weights", {{"V1", {{"sha256", digest}}}}}}}}}})
                          .dump(),
                      "accept.json");
  const auto res = modelzoo::fetch_weights("pinned_net", modelzoo::Weights::default_weights(), o);
  EXPECT_EQ(res.sha256, digest);

  // The file rots in place, size and mtime kept: trusted by default, caught by verify_full.
  const auto mtime = fs::last_write_time(res.path);
  {
    std::fstream f(res.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('X');
  }
  fs::last_write_time(res.path, mtime);
  // Only the cached copy counts now: a source that cannot be reached, offline.
  o.registry.add_json(json({{"format_version", 1},
                            {"models",
                             {{"pinned_net",
                               {{"weights", {{"V1", {{"url", "http://127.0.0.1:1/" + src.filename().string()}}}}}}}}}})
                          .dump(),
                      "offline.json");
  o.fetch.offline = true;
  EXPECT_NO_THROW(modelzoo::fetch_weights("pinned_net", modelzoo::Weights::default_weights(), o));
  o.cache.verify_full = true;
  try {
    modelzoo::fetch_weights("pinned_net", modelzoo::Weights::default_weights(), o);
    ADD_FAILURE() << "expected the rotted file to be refused";
  } catch (const modelzoo::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not match"));
  }
  // From the source again, the damaged copy is replaced by a verified one.
  o.registry.add_json(json({{"format_version", 1},
                            {"models", {{"pinned_net", {{"weights", {{"V1", {{"url", "file://" + src.string()}}}}}}}}}})
                          .dump(),
                      "back.json");
  o.fetch.offline = false;
  const auto again = modelzoo::fetch_weights("pinned_net", modelzoo::Weights::default_weights(), o);
  EXPECT_TRUE(again.downloaded);
  EXPECT_EQ(again.sha256, digest);
}
