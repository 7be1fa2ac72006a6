// Layering: later documents override earlier ones per weights tag; a failing
// document leaves the registry unchanged; MODELZOO_REGISTRY and add_entry.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "registry_test_util.h"

using modelzoo::RegistryError;
using modelzoo::registry::ModelEntry;
using modelzoo::registry::Registry;
using modelzoo::registry::WeightsEntry;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

namespace fs = std::filesystem;

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("mz_registry_test_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    std::ofstream(p) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Sets an environment variable for one scope, restoring the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A user document that adds tag "MINE" to vgg19 and makes it the default.
std::string vgg19_user_tag() {
  return R"({"format_version": 1, "models": {"vgg19": {"default": "MINE", "weights": {
    "MINE": {"url": "http://127.0.0.1:8080/vgg19-mine.pth",
             "sha256": "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a",
             "categories": "imagenet1k"}}}}})";
}

}  // namespace

TEST(RegistryLayers, LaterDocumentReplacesATagAndKeepsTheOthers) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {
    "T2": {"url": "https://mirror.invalid/other.pth", "sha256_prefix": "aaaaaaaa"}}}}})",
             "user.json");
  const ModelEntry& m = r.require("m1");
  EXPECT_EQ(m.origin, "user.json");
  EXPECT_EQ(m.arch, "vgg19");      // kept
  EXPECT_EQ(m.default_tag, "T1");  // kept
  ASSERT_EQ(m.tags(), (std::vector<std::string>{"T1", "T2"}));  // order kept
  EXPECT_EQ(m.require_weights("T1").url, "https://example.invalid/models/m1-dcbb9e9d.pth");
  const WeightsEntry& t2 = m.require_weights("T2");
  EXPECT_EQ(t2.url, "https://mirror.invalid/other.pth");
  EXPECT_EQ(t2.file_name, "other.pth");  // the whole tag entry was replaced
  EXPECT_EQ(t2.sha256.hex, "aaaaaaaa");
}

TEST(RegistryLayers, LaterDocumentAddsATagAndChangesDefaultAndArch) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"arch": "vgg16", "default": "T3", "weights": {
    "T3": {"url": "file:///opt/w/t3.pth", "sha256_prefix": "bbbbbbbb"}}}}})",
             "user.json");
  const ModelEntry& m = r.require("m1");
  EXPECT_EQ(m.arch, "vgg16");
  EXPECT_EQ(m.default_tag, "T3");
  EXPECT_EQ(m.tags(), (std::vector<std::string>{"T1", "T2", "T3"}));
  EXPECT_EQ(m.require_weights("DEFAULT").tag, "T3");
}

TEST(RegistryLayers, OverrideMayOnlyChangeTheDefault) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"default": "T2"}}})", "user.json");
  EXPECT_EQ(r.require("m1").default_tag, "T2");
  EXPECT_EQ(r.require("m1").weights.size(), 2u);
}

TEST(RegistryLayers, DefaultMustExistAfterTheMerge) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  EXPECT_EQ(mzt::add_error(r, R"({"format_version": 1, "models": {"m1": {"default": "T9"}}})", "user.json"),
            "user.json: /models/m1/default: default tag \"T9\" is not among the weights tags (T1, T2); did you "
            "mean \"T1\"?");
}

TEST(RegistryLayers, LaterDocumentsSeeEarlierCategoryTables) {
  Registry r;
  r.add_json(R"({"format_version": 1, "categories": {"pets": ["cat", "dog"]}})", "tables.json");
  r.add_json(R"({"format_version": 1, "models": {"p": {"weights": {
    "V1": {"url": "https://h.invalid/p.pth", "sha256_prefix": "01234567", "categories": "pets"}}}}})",
             "p.json");
  EXPECT_EQ(r.require("p").require_weights("V1").categories, (std::vector<std::string>{"cat", "dog"}));
}

TEST(RegistryLayers, FailingDocumentLeavesRegistryUnchanged) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  // Valid first model (would override m1 and add m2, plus a new table) but an
  // invalid last one: nothing of the document may be applied.
  const std::string text = R"({"format_version": 1,
    "categories": {"tiny": ["replaced"], "extra": ["x"]},
    "models": {
      "m1": {"default": "T2", "weights": {"T1": {"url": "https://other.invalid/x.pth", "sha256_prefix": "cccccccc"}}},
      "m2": {"weights": {"V": {"url": "https://h.invalid/m2.pth", "sha256_prefix": "01234567"}}},
      "m3": {"weights": {"V": {"url": "https://h.invalid/m3.pth", "sha256": "abc"}}}}})";
  EXPECT_EQ(mzt::add_error(r, text, "bad.json"),
            "bad.json: /models/m3/weights/V/sha256: expected 64 lowercase hex characters, got \"abc\"");
  EXPECT_EQ(r.names(), std::vector<std::string>{"m1"});
  const ModelEntry& m = r.require("m1");
  EXPECT_EQ(m.origin, "base.json");
  EXPECT_EQ(m.default_tag, "T1");
  EXPECT_EQ(m.require_weights("T1").url, "https://example.invalid/models/m1-dcbb9e9d.pth");
  EXPECT_EQ(r.category_table_names(), std::vector<std::string>{"tiny"});
  EXPECT_EQ(r.find_categories("tiny")->size(), 3u);

  // A default error found only after merging also leaves everything as it was.
  EXPECT_THAT(mzt::add_error(r, R"({"format_version": 1, "models": {
      "m2": {"weights": {"V": {"url": "https://h.invalid/m2.pth", "sha256_prefix": "01234567"}}},
      "m1": {"default": "nope"}}})", "bad2.json"),
              StartsWith("bad2.json: /models/m1/default:"));
  EXPECT_EQ(r.names(), std::vector<std::string>{"m1"});
}

TEST(RegistryLayers, UserFileOverridesBuiltinVgg19) {
  TempDir dir;
  const auto file = dir.write("user.json", vgg19_user_tag());
  Registry r = Registry::with_files({file});
  const ModelEntry& vgg19 = r.require("vgg19");
  EXPECT_EQ(vgg19.origin, file.string());
  EXPECT_EQ(vgg19.default_tag, "MINE");
  EXPECT_EQ(vgg19.tags(), (std::vector<std::string>{"IMAGENET1K_V1", "MINE"}));
  EXPECT_EQ(vgg19.require_weights("DEFAULT").file_name, "vgg19-mine.pth");
  EXPECT_EQ(vgg19.require_weights("MINE").categories.size(), 1000u);
  EXPECT_EQ(vgg19.require_weights("IMAGENET1K_V1").size, 574673361u);
  // Other models are untouched.
  EXPECT_EQ(r.require("vgg16").origin, Registry::builtin().require("vgg16").origin);
  EXPECT_EQ(r.size(), Registry::builtin().size());
}

TEST(RegistryLayers, LaterFilesWin) {
  TempDir dir;
  const auto a = dir.write("a.json", R"({"format_version": 1, "models": {"x": {"weights": {
    "V": {"url": "https://a.invalid/x.pth", "sha256_prefix": "aaaaaaaa"}}}}})");
  const auto b = dir.write("b.json", R"({"format_version": 1, "models": {"x": {"weights": {
    "V": {"url": "https://b.invalid/x.pth", "sha256_prefix": "bbbbbbbb"}}}}})");
  EXPECT_EQ(Registry::with_files({a, b}).require("x").require_weights("V").url, "https://b.invalid/x.pth");
  EXPECT_EQ(Registry::with_files({b, a}).require("x").require_weights("V").url, "https://a.invalid/x.pth");
}

TEST(RegistryLayers, FromEnvReadsColonSeparatedFiles) {
  TempDir dir;
  const auto a = dir.write("a.json", vgg19_user_tag());
  const auto b = dir.write("b.json", R"({"format_version": 1, "models": {"mine": {"arch": "resnet18",
    "weights": {"V": {"url": "file:///w/mine.pth", "sha256_prefix": "01234567"}}}}})");
  ScopedEnv env("MODELZOO_REGISTRY", a.string() + "::" + b.string() + ":");
  Registry r = Registry::from_env();
  EXPECT_EQ(r.size(), Registry::builtin().size() + 1);
  EXPECT_EQ(r.require("vgg19").default_tag, "MINE");
  EXPECT_EQ(r.require("mine").arch, "resnet18");
  EXPECT_EQ(r.require("mine").origin, b.string());
}

TEST(RegistryLayers, FromEnvWithoutVariableIsBuiltin) {
  ScopedEnv env("MODELZOO_REGISTRY", "");
  Registry r = Registry::from_env();
  EXPECT_EQ(r.names(), Registry::builtin().names());
  EXPECT_EQ(r.require("vgg19").default_tag, "IMAGENET1K_V1");
}

TEST(RegistryLayers, FromEnvNamesTheMissingFileAndTheVariable) {
  TempDir dir;
  const auto missing = (dir.path() / "nope.json").string();
  ScopedEnv env("MODELZOO_REGISTRY", missing);
  try {
    Registry::from_env();
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read registry file \"" + missing +
                                         "\": No such file or directory (registry files from "
                                         "MODELZOO_REGISTRY=\"" + missing + "\")");
  }
}

TEST(RegistryLayers, FromEnvReportsInvalidFileWithPath) {
  TempDir dir;
  const auto bad = dir.write("bad.json", R"({"format_version": 1, "models": {"vgg19": {"default": "V9"}}})");
  ScopedEnv env("MODELZOO_REGISTRY", bad.string());
  try {
    Registry::from_env();
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_THAT(e.what(), StartsWith(bad.string() + ": /models/vgg19/default: default tag \"V9\" is not among "
                                                    "the weights tags (IMAGENET1K_V1)"));
  }
}

TEST(RegistryLayers, AddFileOnADirectoryFails) {
  TempDir dir;
  Registry r;
  EXPECT_THROW(r.add_file(dir.path()), RegistryError);
  EXPECT_EQ(r.size(), 0u);
}

TEST(RegistryLayers, AddEntryReplacesWholeModelAndFillsDefaults) {
  Registry r = Registry::builtin();
  ModelEntry e;
  e.name = "vgg19";
  WeightsEntry w;
  w.tag = "LOCAL";
  w.url = "file:///srv/w/vgg19-local.pth";
  w.sha256.hex = mzt::kHashA;
  e.weights.push_back(w);
  r.add_entry(e);
  const ModelEntry& m = r.require("vgg19");
  EXPECT_EQ(m.arch, "vgg19");
  EXPECT_EQ(m.default_tag, "LOCAL");
  EXPECT_EQ(m.tags(), std::vector<std::string>{"LOCAL"});
  EXPECT_EQ(m.require_weights("LOCAL").file_name, "vgg19-local.pth");
  EXPECT_EQ(m.origin, "entry \"vgg19\"");
}

TEST(RegistryLayers, AddEntryValidates) {
  Registry r;
  ModelEntry e;
  e.name = "m";
  WeightsEntry w;
  w.tag = "V";
  w.url = "https://h.invalid/m.pth";
  w.sha256.hex = "abc";
  e.weights.push_back(w);
  try {
    r.add_entry(e);
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& err) {
    EXPECT_EQ(std::string(err.what()),
              "entry \"m\": /models/m/weights/V/sha256: expected 64 lowercase hex characters, got \"abc\"");
  }
  e.weights[0].sha256.hex = mzt::kHashB;
  e.weights[0].file_name = "../m.pth";
  EXPECT_THROW(r.add_entry(e), RegistryError);
  e.weights[0].file_name.clear();
  e.weights[0].transforms.std[0] = 0;
  try {
    r.add_entry(e);
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& err) {
    EXPECT_THAT(err.what(), HasSubstr("/models/m/weights/V/transforms/std/0: expected a positive standard"));
  }
  e.weights[0].transforms.std[0] = 0.2;
  e.default_tag = "W";
  EXPECT_THROW(r.add_entry(e), RegistryError);
  EXPECT_EQ(r.size(), 0u);
  e.default_tag.clear();
  e.weights.clear();
  EXPECT_THROW(r.add_entry(e), RegistryError);
  EXPECT_EQ(r.size(), 0u);
}

TEST(RegistryLayers, ParseRegistryAppliesOnTopOfBuiltin) {
  auto entries = modelzoo::registry::parse_registry(vgg19_user_tag(), "user.json");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "vgg19");
  EXPECT_EQ(entries[0].tags(), (std::vector<std::string>{"IMAGENET1K_V1", "MINE"}));
  EXPECT_THROW(modelzoo::registry::parse_registry("{}", "empty.json"), RegistryError);
}
