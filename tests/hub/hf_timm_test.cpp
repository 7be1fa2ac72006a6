// timm's weights from the Hub end to end: files of timm's layout (made with
// Debian's torch by tests/oracle/timm_layout.py: resnet50 with torchvision's
// names; convnext_tiny, efficientnet_b0, regnet_y_400mf and vit_b_16 under the
// names and shapes timm's own models have, recorded from timm in
// tests/oracle/timm_layouts/) served by a loopback Hub, loaded by get_model
// through hf:// sources and registry/timm.json's tags and key rules, give
// torchvision's outputs on the same weights.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <fstream>

#include <torch/torch.h>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights_info.h"
#include "modelzoo/io/io.h"
#include "support/hub_server.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace mz = modelzoo;
using ::testing::HasSubstr;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double relative_diff(const at::Tensor& out, const at::Tensor& expected) {
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (out - expected).abs().max().item<double>() / scale;
}

// One timm weights entry per renamed layout of registry/timm.json.
struct RenamedLayout {
  std::string model, repo, tag;
};
const std::vector<RenamedLayout>& renamed_layouts() {
  static const std::vector<RenamedLayout> all = {
      {"convnext_tiny", "timm/convnext_tiny.fb_in1k", "TIMM_FB_IN1K"},
      {"efficientnet_b0", "timm/efficientnet_b0.ra_in1k", "TIMM_RA_IN1K"},
      {"regnet_y_400mf", "timm/regnety_004.pycls_in1k", "TIMM_PYCLS_IN1K"},
      {"vit_b_16", "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", "TIMM_AUGREG2_IN21K_FT_IN1K"},
  };
  return all;
}

class HfTimm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new fs::path(fs::path(MZ_BINARY_DIR) / "fixtures" / "hf_timm");
    mz_test::cached_fixture(*fixture_, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "timm_layout.py",
                            "resnet50 convnext_tiny efficientnet_b0 regnet_y_400mf vit_b_16");
    hub_ = new mz_test::HubServer();
    hub_->commit("timm/resnet50.a1_in1k",
                 {{"model.safetensors", read_file(*fixture_ / "resnet50.safetensors"), true},
                  {"config.json", "{\"architecture\": \"resnet50\", \"num_classes\": 1000}\n", false}});
    for (const auto& r : renamed_layouts()) {
      hub_->commit(r.repo, {{"model.safetensors", read_file(*fixture_ / (r.model + ".safetensors")), true}});
    }
    hub_->apply();
  }
  static void TearDownTestSuite() {
    delete hub_;
    delete fixture_;
  }
  void SetUp() override {
    dir_ = std::make_unique<mz_test::TempDir>("mz_hf_timm_");
    options_.registry = mz::registry::Registry::builtin();
    options_.cache.root = dir_->path() / "torch";
    options_.cache.hf_root = dir_->path() / "hf";
    options_.fetch.hf.endpoints = {hub_->endpoint()};
  }
  at::Tensor expected(const std::string& arch, const char* key) const {
    mz::io::ReadOptions ro;
    ro.mmap = false;
    return mz::io::read(*fixture_ / (arch + ".io.pth"), ro).at(key).as_tensor();
  }
  static fs::path* fixture_;
  static mz_test::HubServer* hub_;
  std::unique_ptr<mz_test::TempDir> dir_;
  mz::HubOptions options_;
};
fs::path* HfTimm::fixture_ = nullptr;
mz_test::HubServer* HfTimm::hub_ = nullptr;

TEST_F(HfTimm, Resnet50FromAnHfSourceGivesTorchvisionsOutputs) {
  const auto weights = mz::Weights::parse("hf://timm/resnet50.a1_in1k/model.safetensors");
  auto model = mz::get_model("resnet50", weights, options_);
  torch::NoGradGuard no_grad;
  const double diff = relative_diff(model->forward(expected("resnet50", "input")), expected("resnet50", "output"));
  EXPECT_LT(diff, 1e-4);
  // The registry entry for the same Hub file lends its preprocessing.
  const auto info = mz::weights_info("resnet50", weights, options_);
  EXPECT_EQ(info.tag, "TIMM_A1_IN1K");
  EXPECT_EQ(info.transforms.resize_size, 235);
  EXPECT_EQ(info.transforms.interpolation, "bicubic");
  EXPECT_EQ(info.categories.size(), 1000u);
  // In the Hub's layout, not in torch.hub's directory.
  const fs::path repo = options_.cache.hf_root / "models--timm--resnet50.a1_in1k";
  EXPECT_TRUE(fs::is_directory(repo / "blobs"));
  EXPECT_FALSE(fs::exists(options_.cache.root / "model.safetensors"));

  // The registry tag is the same file: a second load makes no download.
  const auto before = hub_->cdn_requests("/blobs/").size();
  auto again = mz::get_model("resnet50", mz::Weights::tag("TIMM_A1_IN1K"), options_);
  EXPECT_EQ(hub_->cdn_requests("/blobs/").size(), before);
  EXPECT_LT(relative_diff(again->forward(expected("resnet50", "input")), expected("resnet50", "output")), 1e-4);
}

TEST_F(HfTimm, ConvnextWithTimmsNamesLoadsThroughTheRegistrysKeyRules) {
  auto model = mz::get_model("convnext_tiny", mz::Weights::tag("TIMM_FB_IN1K"), options_);
  torch::NoGradGuard no_grad;
  const double diff =
      relative_diff(model->forward(expected("convnext_tiny", "input")), expected("convnext_tiny", "output"));
  EXPECT_LT(diff, 1e-4);
  // Without the rules timm's names do not fit: a clear error naming keys of both sides.
  mz::HubOptions bare = options_;
  bare.registry = mz::registry::Registry();  // no timm.json entry to lend its rules
  try {
    mz::get_model("convnext_tiny", mz::Weights::hub("hf://timm/convnext_tiny.fb_in1k/model.safetensors"), bare);
    FAIL() << "expected a LoadError";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("stages.0.blocks.0.gamma"));
    EXPECT_THAT(e.what(), HasSubstr("features.1.0.layer_scale"));
  }
}

TEST_F(HfTimm, EveryRenamedLayoutGivesTorchvisionsOutputs) {
  torch::NoGradGuard no_grad;
  for (const auto& r : renamed_layouts()) {
    SCOPED_TRACE(r.model + " from " + r.repo);
    auto model = mz::get_model(r.model, mz::Weights::tag(r.tag), options_);
    EXPECT_LT(relative_diff(model->forward(expected(r.model, "input")), expected(r.model, "output")), 1e-4);
    // The file came from the tag's Hub repository, into the Hub's cache.
    const std::string repo = "models--" + r.repo.substr(0, r.repo.find('/')) + "--" + r.repo.substr(r.repo.find('/') + 1);
    EXPECT_TRUE(fs::is_directory(options_.cache.hf_root / repo / "snapshots"));
  }
}

TEST_F(HfTimm, OfflineLoadUsesTheHubCacheWithoutTheNetwork) {
  mz::get_model("resnet50", mz::Weights::tag("TIMM_A1_IN1K"), options_);
  options_.fetch.hf.endpoints = {"http://127.0.0.1:9"};
  options_.fetch.hf.offline = true;
  const auto log = hub_->nginx().access_log().size();
  auto model = mz::get_model("resnet50", mz::Weights::tag("TIMM_A1_IN1K"), options_);
  EXPECT_EQ(hub_->nginx().access_log().size(), log);
  torch::NoGradGuard no_grad;
  EXPECT_LT(relative_diff(model->forward(expected("resnet50", "input")), expected("resnet50", "output")), 1e-4);
}

}  // namespace
