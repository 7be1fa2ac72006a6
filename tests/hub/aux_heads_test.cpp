// GoogLeNet and Inception v3 through the shipped registry entries: the
// entries' arch options (transform_input) are applied, and the auxiliary
// heads follow torchvision's pretrained builders (googlenet drops aux1/aux2,
// inception_v3 keeps AuxLogits) while eval-mode outputs match torchvision's.

#include <gtest/gtest.h>

#include <fstream>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include "modelzoo/modelzoo.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const json& manifest() {
  static const json m = mz_test::cached_fixture(fs::path(MZ_BINARY_DIR) / "fixtures" / "hub_aux",
                                                fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "hub_fixture.py",
                                                "googlenet inception_v3 --size 80");
  return m;
}

// The shipped registry file for `name`, with the default tag's source pointed
// at the generated file: everything else (transforms, categories, meta and its
// arch_options) is exactly what ships.
fs::path shipped_entry_pointing_at(const mz_test::TempDir& dir, const std::string& file, const std::string& name) {
  json doc;
  std::ifstream(fs::path(MZ_SOURCE_DIR) / "registry" / (file + ".json")) >> doc;
  auto& model = doc["models"][name];
  auto& entry = model["weights"][model["default"].get<std::string>()];
  const auto& generated = manifest()[name]["zip"];
  entry["url"] = "file://" + generated["path"].get<std::string>();
  entry.erase("sha256_prefix");
  entry["sha256"] = generated["sha256"];
  entry["size"] = generated["size"];
  entry["file_name"] = generated["file_name"];
  const fs::path p = dir.path() / (name + ".json");
  std::ofstream(p) << doc.dump(2);
  return p;
}

modelzoo::Classifier pretrained(const std::string& file, const std::string& name, const mz_test::TempDir& dir,
                                const json& arch_options = json::object()) {
  modelzoo::HubOptions o;
  o.registry = modelzoo::registry::Registry::builtin();
  o.registry.add_file(shipped_entry_pointing_at(dir, file, name));
  o.cache.root = dir.path() / "cache";
  o.arch_options = arch_options;
  return modelzoo::get_model(name, modelzoo::Weights::default_weights(), o);
}

bool has_key_starting(const modelzoo::Classifier& model, const std::string& prefix) {
  for (const auto& item : model->named_parameters()) {
    if (item.key().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void expect_matches_torchvision(modelzoo::Classifier& model, const std::string& name) {
  const auto v = modelzoo::io::read(manifest()[name]["expected"].get<std::string>());
  const at::Tensor x = v.at("input").as_tensor();
  const at::Tensor y = v.at("output").as_tensor();
  c10::NoGradGuard no_grad;
  const at::Tensor out = model->forward(x);
  ASSERT_EQ(out.sizes(), y.sizes());
  const double scale = std::max(1.0, y.abs().max().item<double>());
  EXPECT_LE((out - y).abs().max().item<double>(), 1e-4 * scale) << name;
}

TEST(AuxHeads, GooglenetPretrainedDropsAuxHeadsAndMatchesTorchvision) {
  mz_test::TempDir dir("mz_hub_aux_");
  auto model = pretrained("googlenet", "googlenet", dir);
  EXPECT_FALSE(has_key_starting(model, "aux1.")) << "torchvision's pretrained googlenet has no aux heads";
  EXPECT_FALSE(has_key_starting(model, "aux2."));
  expect_matches_torchvision(model, "googlenet");
}

TEST(AuxHeads, GooglenetKeepsAuxHeadsWhenAsked) {
  mz_test::TempDir dir("mz_hub_aux_");
  auto model = pretrained("googlenet", "googlenet", dir, {{"aux_logits", true}});
  EXPECT_TRUE(has_key_starting(model, "aux1."));
  EXPECT_TRUE(has_key_starting(model, "aux2."));
  expect_matches_torchvision(model, "googlenet");
}

TEST(AuxHeads, InceptionPretrainedKeepsAuxLogitsAndMatchesTorchvision) {
  mz_test::TempDir dir("mz_hub_aux_");
  auto model = pretrained("inception", "inception_v3", dir);
  EXPECT_TRUE(has_key_starting(model, "AuxLogits."));
  expect_matches_torchvision(model, "inception_v3");
}

}  // namespace
