// Every real-world file of the shared corpus against the values Python's
// torch.load returned for it (expected/<file>.json). The corpus is found
// through MODELZOO_CORPUS_DIR (support/corpus.h); without it these tests skip.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "io_test_util.h"
#include "support/corpus.h"
#include "modelzoo/error.h"
#include "modelzoo/io/io.h"

namespace {

namespace fs = std::filesystem;
namespace io = modelzoo::io;
using io_test::Value;

fs::path corpus() { return mz_test::corpus_dir(); }

std::vector<std::string> corpus_files() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(corpus() / "real")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// safetensors U16/U32 have no LibTorch 1.13 dtype: the reader widens them to
// int32/int64 (documented in io.h), values unchanged.
std::string mapped_dtype(const std::string& dtype) {
  if (dtype == "uint16") return "int32";
  if (dtype == "uint32" || dtype == "uint64") return "int64";
  return dtype;
}

void expect_close(double expected, double actual, double scale, const std::string& what) {
  const double tol = 1e-9 * std::max(1.0, scale) + 1e-9;
  EXPECT_NEAR(expected, actual, tol) << what;
}

void check_file(const std::string& name, bool mmap) {
  SCOPED_TRACE(name + (mmap ? " (mmap)" : " (read)"));
  const fs::path file = corpus() / "real" / name;
  nlohmann::json expected;
  std::ifstream(corpus() / "expected" / (name + ".json")) >> expected;
  EXPECT_EQ(io::format_name(io::detect_format(file)), expected["format"].get<std::string>());

  io::ReadOptions opt;
  opt.mmap = mmap;
  if (!expected["loadable"].get<bool>()) {
    // The refusal must name the class Python could not import.
    std::string reason = expected["refuse_reason"];
    std::smatch m;
    ASSERT_TRUE(std::regex_search(reason, m, std::regex("No module named '([^']+)'"))) << reason;
    try {
      io::read(file, opt);
      ADD_FAILURE() << "expected UnsafePickleError";
    } catch (const modelzoo::UnsafePickleError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + m[1].str() + "."), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
    return;
  }
  Value v = io::read(file, opt);
  if (expected.contains("metadata")) {
    const Value& meta = v.at("__metadata__");
    ASSERT_EQ(meta.size(), expected["metadata"].size());
    for (auto it = expected["metadata"].begin(); it != expected["metadata"].end(); ++it) {
      EXPECT_EQ(meta.at(it.key()).as_str(), it.value().get<std::string>());
    }
    v.erase(Value("__metadata__"));
  } else {
    EXPECT_EQ(v.find("__metadata__"), nullptr);
  }
  std::map<std::string, nlohmann::json> got;
  io_test::flatten(v, "", got);
  const auto& entries = expected["entries"];
  EXPECT_EQ(got.size(), entries.size());
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    const std::string& path = it.key();
    const auto& want = it.value();
    auto found = got.find(path);
    if (found == got.end()) {
      ADD_FAILURE() << "missing entry " << path;
      continue;
    }
    const auto& have = found->second;
    ASSERT_EQ(have["kind"], want["kind"]) << path;
    if (want["kind"] == "tensor") {
      EXPECT_EQ(have["dtype"].get<std::string>(), mapped_dtype(want["dtype"])) << path;
      EXPECT_EQ(have["shape"], want["shape"]) << path;
      EXPECT_EQ(have["stride"], want["stride"]) << path;
      EXPECT_EQ(have["storage_offset"], want["storage_offset"]) << path;
      const double scale = want["abs_sum"].get<double>();
      expect_close(want["sum"], have["sum"], scale, path + " sum");
      expect_close(want["abs_sum"], have["abs_sum"], scale, path + " abs_sum");
    } else {
      EXPECT_EQ(have["value"], want["value"]) << path;
    }
  }
  for (const auto& [path, entry] : got) {
    EXPECT_TRUE(entries.contains(path)) << "unexpected entry " << path;
  }
}

// Every file of one format, read with and without mmap. (Grouped so that the
// suite starts few processes: each loads LibTorch.)
void check_format(const std::string& format) {
  MZ_REQUIRE_CORPUS();
  int checked = 0;
  for (const auto& name : corpus_files()) {
    nlohmann::json expected;
    std::ifstream(corpus() / "expected" / (name + ".json")) >> expected;
    if (expected["format"] != format) continue;
    check_file(name, true);
    check_file(name, false);
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no " << format << " file in the corpus";
}

TEST(Corpus, ZipFilesMatchPython) { check_format("zip"); }
TEST(Corpus, LegacyFilesMatchPython) { check_format("legacy"); }
TEST(Corpus, SafetensorsFilesMatchPython) { check_format("safetensors"); }

TEST(Corpus, EveryFileIsCovered) {
  // 30 files, each with an expected/<file>.json.
  MZ_REQUIRE_CORPUS();
  EXPECT_EQ(corpus_files().size(), 30u);
  for (const auto& name : corpus_files()) EXPECT_TRUE(fs::exists(corpus() / "expected" / (name + ".json"))) << name;
}

TEST(CorpusStateDict, FindsTheTensorsOfCheckpoints) {
  MZ_REQUIRE_CORPUS();
  // burn_checkpoint.pt: {'epoch', 'loss', 'model_state_dict': {...}, 'optimizer_state_dict': {...}}
  io::StateDict sd = io::read_state_dict(corpus() / "real" / "burn_checkpoint.pt");
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd.keys()[0], "fc1.weight");
  EXPECT_EQ(sd["fc2.weight"].sizes().vec(), (std::vector<int64_t>{3, 10}));
  // A plain OrderedDict state dict (zip, with _metadata set by BUILD).
  io::StateDict mnist = io::read_state_dict(corpus() / "real" / "burn_mnist.pt");
  EXPECT_EQ(mnist.size(), 20u);
  // safetensors: __metadata__ is not a tensor and is skipped.
  io::StateDict st = io::read_state_dict(corpus() / "real" / "hfst_samples_overall.safetensors");
  EXPECT_EQ(st.size(), 9u);
  EXPECT_EQ(st.find("__metadata__"), nullptr);
}

TEST(CorpusStateDict, KeepsOrderedDictMetadataAsAttributes) {
  MZ_REQUIRE_CORPUS();
  Value v = io::read(corpus() / "real" / "burn_mnist.pt");
  ASSERT_TRUE(v.is_ordered_dict());
  const Value* attrs = v.attributes();
  ASSERT_NE(attrs, nullptr);
  EXPECT_TRUE(attrs->at("_metadata").is_dict());
}

TEST(CorpusStateDict, CheckpointWithoutTensorsNamesItsKeys) {
  MZ_REQUIRE_CORPUS();
  // sdbc_bad-hands-5.pt holds string_to_param (a dict of one tensor) but no
  // recognised state dict key, so it is refused with the keys listed.
  try {
    io::read_state_dict(corpus() / "real" / "sdbc_bad-hands-5.pt");
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'string_to_param'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sdbc_bad-hands-5.pt"), std::string::npos) << e.what();
  }
}

TEST(CorpusViews, LegacyViewsShareOneStorage) {
  MZ_REQUIRE_CORPUS();
  Value v = io::read(corpus() / "real" / "burn_legacy_uncloned_views.pt");
  const at::Tensor& a = v.at("tensor1").as_tensor();
  const at::Tensor& b = v.at("tensor2").as_tensor();
  EXPECT_TRUE(a.storage().is_alias_of(b.storage()));
  EXPECT_EQ(static_cast<const char*>(b.data_ptr()) - static_cast<const char*>(a.data_ptr()),
            (b.storage_offset() - a.storage_offset()) * 4);
}

TEST(CorpusDevice, CudaSavedStoragesLoadOnCpu) {
  MZ_REQUIRE_CORPUS();
  // dface_* were saved from cuda:0 by Python 2.
  io::StateDict sd = io::read_state_dict(corpus() / "real" / "dface_pnet_epoch.pt");
  ASSERT_GT(sd.size(), 0u);
  for (const auto& item : sd) EXPECT_TRUE(item.value().device().is_cpu()) << item.key();
}

}  // namespace
