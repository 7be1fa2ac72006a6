// timm's weights from the Hub end to end: files of timm's layout (made with
// Debian's torch by tests/oracle/timm_layout.py: resnet50 with torchvision's
// names, convnext_tiny with timm's names and flat gamma) served by a loopback
// Hub, loaded by get_model through hf:// sources and registry/timm.json's
// tags, give torchvision's outputs on the same weights.
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

class HfTimm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new fs::path(fs::path(MZ_BINARY_DIR) / "fixtures" / "hf_timm");
    mz_test::cached_fixture(*fixture_, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "timm_layout.py",
                            "resnet50 convnext_tiny");
    hub_ = new mz_test::HubServer();
    hub_->commit("timm/resnet50.a1_in1k",
                 {{"model.safetensors", read_file(*fixture_ / "resnet50.safetensors"), true},
                  {"config.json", "{\"architecture\": \"resnet50\", \"num_classes\": 1000}\n", false}});
    hub_->commit("timm/convnext_tiny.fb_in1k",
                 {{"model.safetensors", read_file(*fixture_ / "convnext_tiny.safetensors"), true}});
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
