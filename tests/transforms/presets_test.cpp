// The dense-task presets (transforms/presets.h) against torchvision 0.14's
// SemanticSegmentation, VideoClassification and OpticalFlow on PNG images
// and a synthetic clip (tests/oracle/presets_fixture.py), in both resize
// modes, plus refused inputs and meta.preset parsing.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "modelzoo/registry/registry.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/presets.h"
#include "support/process.h"

namespace fs = std::filesystem;
namespace tr = modelzoo::transforms;
using nlohmann::json;

namespace {

// Float32 kernels on both sides: equal up to rounding.
constexpr double kTolerance = 1e-5;

class PresetOracle {
 public:
  static const PresetOracle& get() {
    static const PresetOracle o;
    return o;
  }
  const json& manifest() const { return manifest_; }
  at::Tensor expected(const std::string& key) const { return expected_.at(key).as_tensor(); }

 private:
  PresetOracle() {
    const fs::path dir = fs::path(MZ_BINARY_DIR) / "fixtures" / "presets";
    const fs::path script = fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "presets_fixture.py";
    manifest_ = mz_test::cached_fixture(dir, script, "");
    modelzoo::io::ReadOptions ro;
    ro.mmap = false;
    expected_ = modelzoo::io::read(manifest_["expected"].get<std::string>(), ro);
  }
  json manifest_;
  modelzoo::io::Value expected_;
};

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

tr::PresetSpec spec_of(const std::string& name, const json& p) {
  json j = p;
  j["name"] = name;
  return tr::PresetSpec::from_json(j, "test");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelzoo::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected modelzoo::Error";
  return "";
}

}  // namespace

TEST(DensePresets, SegmentationMatchesTorchvision) {
  const auto& o = PresetOracle::get();
  const tr::PresetSpec spec = spec_of("SemanticSegmentation", o.manifest()["segmentation"]);
  double worst = 0;
  for (const bool antialias : {false, true}) {
    tr::PreprocessOptions opts;
    opts.antialias = antialias;
    const tr::SegmentationPreset preset(spec, opts);
    for (const auto& img : o.manifest()["images"]) {
      const std::string key = "seg/" + img["name"].get<std::string>() + (antialias ? "/antialias" : "/tensor");
      const at::Tensor got = preset(tr::read_image(img["file"].get<std::string>()));
      const at::Tensor want = o.expected(key);
      ASSERT_EQ(got.sizes(), want.sizes()) << key;
      ASSERT_EQ(got.scalar_type(), at::kFloat);
      const double diff = max_abs_diff(got, want);
      EXPECT_LE(diff, kTolerance) << key;
      worst = std::max(worst, diff);
    }
  }
  std::cout << "segmentation preset parity: max abs diff " << worst << "\n";
}

TEST(DensePresets, VideoMatchesTorchvisionAndPutsChannelsFirst) {
  const auto& o = PresetOracle::get();
  const at::Tensor clip = o.expected("clip");  // T x C x H x W uint8
  ASSERT_EQ(clip.dim(), 4);
  for (const auto& name : o.manifest()["clips"]) {
    const std::string n = name.get<std::string>();
    const tr::PresetSpec spec = spec_of("VideoClassification", o.manifest()["video"][n]);
    for (const bool antialias : {false, true}) {
      tr::PreprocessOptions opts;
      opts.antialias = antialias;
      const tr::VideoPreset preset(spec, opts);
      const at::Tensor got = preset(clip);
      const at::Tensor want = o.expected("video/" + n + (antialias ? "/antialias" : "/tensor"));
      ASSERT_EQ(got.sizes(), want.sizes()) << n;
      EXPECT_EQ(got.size(0), 3);
      EXPECT_EQ(got.size(1), clip.size(0));
      EXPECT_LE(max_abs_diff(got, want), kTolerance) << n << " antialias=" << antialias;
    }
    tr::PreprocessOptions plain;
    plain.antialias = false;
    const at::Tensor batch = tr::VideoPreset(spec, plain)(at::stack({clip, clip.flip(-1)}));
    const at::Tensor want = o.expected("video/" + n + "/batch");
    ASSERT_EQ(batch.sizes(), want.sizes());
    EXPECT_LE(max_abs_diff(batch, want), kTolerance) << n;
  }
}

TEST(DensePresets, OpticalFlowMapsToMinusOneOne) {
  const auto& o = PresetOracle::get();
  const auto [a, b] = tr::optical_flow_preset(o.expected("flow/a"), o.expected("flow/b"));
  EXPECT_LE(max_abs_diff(a, o.expected("flow/out_a")), kTolerance);
  EXPECT_LE(max_abs_diff(b, o.expected("flow/out_b")), kTolerance);
  EXPECT_GE(a.min().item<double>(), -1.0);
  EXPECT_LE(a.max().item<double>(), 1.0);
  EXPECT_NE(error_of([] { tr::optical_flow_preset(at::zeros({3, 8, 8}, at::kByte), at::zeros({3, 8, 9}, at::kByte)); })
                .find("the two frames differ in shape: 3 x 8 x 8 and 3 x 8 x 9"),
            std::string::npos);
}

TEST(DensePresets, RegistryEntriesCarryTheirPreset) {
  const auto r = modelzoo::registry::Registry::builtin();
  const auto seg = tr::PresetSpec::of(r.require("deeplabv3_resnet50").require_weights("DEFAULT"));
  EXPECT_EQ(seg.name, "SemanticSegmentation");
  EXPECT_EQ(seg.resize_size, (std::vector<int64_t>{520}));
  const auto video = tr::PresetSpec::of(r.require("r3d_18").require_weights("DEFAULT"));
  EXPECT_EQ(video.resize_size, (std::vector<int64_t>{128, 171}));
  EXPECT_EQ(video.crop_size, (std::vector<int64_t>{112, 112}));
  tr::VideoPreset vp(video);
  EXPECT_EQ(vp(at::zeros({2, 3, 30, 40}, at::kByte)).sizes(), (at::IntArrayRef{3, 2, 112, 112}));
  EXPECT_EQ(tr::PresetSpec::of(r.require("raft_small").require_weights("DEFAULT")).name, "OpticalFlow");
  EXPECT_NE(error_of([&] { tr::PresetSpec::of(r.require("resnet50").require_weights("DEFAULT")); })
                .find("weights IMAGENET1K_V2 have no meta.preset"),
            std::string::npos);
}

TEST(DensePresets, BadSpecsAndInputsAreRefused) {
  std::string msg = error_of([] { tr::PresetSpec::from_json(json{{"name", "VideoClassification"}, {"resize_size", 5}}, "x.json"); });
  EXPECT_NE(msg.find("x.json: preset field 'resize_size' must be an array, got 5"), std::string::npos) << msg;
  msg = error_of([] { tr::SegmentationPreset(spec_of("VideoClassification", json::object())); });
  EXPECT_NE(msg.find("expected a SemanticSegmentation preset, got \"VideoClassification\""), std::string::npos) << msg;
  msg = error_of([] { tr::VideoPreset(spec_of("VideoClassification", {{"resize_size", {128, 171}}})); });
  EXPECT_NE(msg.find("resize_size and crop_size are required"), std::string::npos) << msg;
  msg = error_of([] { tr::SegmentationPreset(spec_of("SemanticSegmentation", {{"std", {1, 0, 1}}})); });
  EXPECT_NE(msg.find("every std value must be > 0"), std::string::npos) << msg;
  const tr::VideoPreset vp(spec_of("VideoClassification", {{"resize_size", {16}}, {"crop_size", {8}}}));
  msg = error_of([&] { vp(at::zeros({3, 16, 16}, at::kByte)); });
  EXPECT_NE(msg.find("expected a T x 3 x H x W clip or an N x T x 3 x H x W batch, got 3 x 16 x 16"), std::string::npos)
      << msg;
  msg = error_of([&] { vp(at::zeros({2, 3, 16, 16}, at::kInt)); });
  EXPECT_NE(msg.find("expected uint8 or floating-point pixels"), std::string::npos) << msg;
}
