// Every op of the ops stage against torchvision.ops: tests/oracle/ops_oracle.py
// writes inputs and torchvision's outputs (random and adversarial cases:
// empty inputs, single and identical boxes, tied scores, boxes outside the
// image, zero-area boxes, rois on every pyramid level, sampling_ratio 0/2/-1,
// aligned true/false); each case is replayed here.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "modelzoo/ops/anchors.h"
#include "modelzoo/ops/boxes.h"
#include "modelzoo/ops/layers.h"
#include "modelzoo/ops/postprocess.h"
#include "modelzoo/ops/roi_align.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace ops = modelzoo::ops;

class Oracle {
 public:
  static const Oracle& get() {
    static const Oracle o;
    return o;
  }
  // The cases of one op (name -> params).
  std::vector<std::pair<std::string, json>> cases(const std::string& op) const {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& c : manifest_["cases"]) {
      if (c["op"] == op) out.emplace_back(c["name"].get<std::string>(), c["params"]);
    }
    EXPECT_FALSE(out.empty()) << "the oracle has no case for " << op;
    return out;
  }
  const at::Tensor& t(const std::string& name, const std::string& field) const {
    const at::Tensor* v = tensors_.find(name + "/" + field);
    if (v == nullptr) throw std::runtime_error("oracle has no tensor " + name + "/" + field);
    return *v;
  }
  // Fields of a case whose names start with `prefix`, prefix stripped.
  std::map<std::string, at::Tensor> fields(const std::string& name, const std::string& prefix) const {
    std::map<std::string, at::Tensor> out;
    const std::string p = name + "/" + prefix;
    for (const auto& item : tensors_) {
      if (item.key().rfind(p, 0) == 0) out[item.key().substr(p.size())] = item.value();
    }
    return out;
  }

 private:
  Oracle() {
    const fs::path dir = fs::path(MZ_BINARY_DIR) / "fixtures" / "ops";
    manifest_ = mz_test::cached_fixture(dir, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "ops_oracle.py", "");
    modelzoo::io::ReadOptions ro;
    ro.mmap = false;
    tensors_ = modelzoo::io::read_state_dict(dir / "cases.pth", ro);
  }
  json manifest_;
  modelzoo::io::StateDict tensors_;
};

// Exact equality of shape, dtype and values.
void expect_equal(const at::Tensor& out, const at::Tensor& expected, const std::string& what) {
  ASSERT_EQ(out.sizes(), expected.sizes()) << what;
  ASSERT_EQ(out.scalar_type(), expected.scalar_type()) << what;
  EXPECT_TRUE(at::equal(out, expected)) << what << ": max |diff| = "
                                        << (out.numel() ? (out.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>() : 0.0);
}

void expect_close(const at::Tensor& out, const at::Tensor& expected, double tol, const std::string& what) {
  ASSERT_EQ(out.sizes(), expected.sizes()) << what;
  if (out.numel() == 0) return;
  const double diff = (out.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
  EXPECT_LE(diff, tol) << what;
}

TEST(Boxes, ConvertAreaIouClipSmallAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("box_convert")) {
    expect_equal(ops::box_convert(o.t(name, "boxes"), p["in"], p["out"]), o.t(name, "out"), name);
  }
  for (const auto& [name, p] : o.cases("box_iou")) {
    expect_equal(ops::box_iou(o.t(name, "boxes1"), o.t(name, "boxes2")), o.t(name, "out"), name);
    expect_equal(ops::box_area(o.t(name, "boxes1")), o.t(name, "area"), name + " area");
  }
  for (const auto& [name, p] : o.cases("clip")) {
    expect_equal(ops::clip_boxes_to_image(o.t(name, "boxes"), {p["height"], p["width"]}), o.t(name, "out"), name);
  }
  for (const auto& [name, p] : o.cases("remove_small")) {
    expect_equal(ops::remove_small_boxes(o.t(name, "boxes"), p["min_size"]), o.t(name, "out"), name);
  }
}

TEST(Boxes, NmsKeepsTorchvisionsIndicesAndOrder) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("nms")) {
    expect_equal(ops::nms(o.t(name, "boxes"), o.t(name, "scores"), p["iou_threshold"]), o.t(name, "out"), name);
  }
  for (const auto& [name, p] : o.cases("batched_nms")) {
    expect_equal(ops::batched_nms(o.t(name, "boxes"), o.t(name, "scores"), o.t(name, "idxs"), p["iou_threshold"]),
                 o.t(name, "out"), name);
  }
}

TEST(Boxes, BadShapesAreRefusedWithTheirShape) {
  try {
    ops::nms(at::zeros({3, 5}), at::zeros({3}), 0.5);
    FAIL() << "expected modelzoo::Error";
  } catch (const modelzoo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("N x 4, got [3, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::nms(at::zeros({3, 4}), at::zeros({2}), 0.5), modelzoo::Error);
  EXPECT_THROW(ops::box_convert(at::zeros({1, 4}), "xyxy", "yxyx"), modelzoo::Error);
  EXPECT_THROW(ops::roi_align(at::zeros({1, 1, 4, 4}), at::tensor({3.f, 0.f, 0.f, 1.f, 1.f}).view({1, 5}),
                              ops::RoIAlignOptions{}),
               modelzoo::Error);
}

TEST(Boxes, CodersAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("box_coder")) {
    const auto w = p["weights"].get<std::vector<double>>();
    const ops::BoxCoder coder({w[0], w[1], w[2], w[3]});
    expect_equal(coder.decode_single(o.t(name, "codes"), o.t(name, "boxes")), o.t(name, "decoded"), name + " decode");
    expect_equal(coder.encode_single(o.t(name, "reference"), o.t(name, "boxes")), o.t(name, "encoded"),
                 name + " encode");
  }
  for (const auto& [name, p] : o.cases("box_linear_coder")) {
    const ops::BoxLinearCoder coder(true);
    expect_equal(coder.decode(o.t(name, "codes"), o.t(name, "anchors")), o.t(name, "decoded"), name + " decode");
    expect_equal(coder.encode(o.t(name, "anchors"), o.t(name, "targets")), o.t(name, "encoded"), name + " encode");
  }
}

TEST(RoIAlign, EqualsTorchvisionOnEveryMode) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("roi_align")) {
    ops::RoIAlignOptions opt;
    opt.output_height = p["output_h"];
    opt.output_width = p["output_w"];
    opt.spatial_scale = p["spatial_scale"];
    opt.sampling_ratio = p["sampling_ratio"];
    opt.aligned = p["aligned"];
    const at::Tensor out = ops::roi_align(o.t(name, "input"), o.t(name, "rois"), opt);
    // Same arithmetic in the same order: equal up to the last bit.
    expect_close(out, o.t(name, "out"), 1e-6, name);
  }
}

TEST(RoIAlign, MultiScaleMapsBoxesToTorchvisionsLevels) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("multiscale")) {
    ops::FeatureMaps feats;
    for (const auto& n : p["feature_names"]) feats.emplace_back(n.get<std::string>(), o.t(name, "feat_" + n.get<std::string>()));
    std::vector<std::pair<int64_t, int64_t>> shapes;
    for (const auto& s : p["image_shapes"]) shapes.emplace_back(s[0], s[1]);
    const std::pair<int64_t, int64_t> size =
        p["output"].is_array() ? std::pair<int64_t, int64_t>{p["output"][0], p["output"][1]}
                               : std::pair<int64_t, int64_t>{p["output"], p["output"]};
    const ops::MultiScaleRoIAlign pool(p["names"].get<std::vector<std::string>>(), size, p["sampling_ratio"]);
    const std::vector<at::Tensor> boxes = {o.t(name, "boxes0"), o.t(name, "boxes1")};
    expect_close(pool(feats, boxes, shapes), o.t(name, "out"), 1e-6, name);
    if (o.t(name, "levels").numel() > 0) {
      const at::Tensor levels = ops::LevelMapper(2, 5)(boxes);
      expect_equal(levels, o.t(name, "levels"), name + " levels");
      for (int64_t l = 0; l < 4; ++l) EXPECT_TRUE(levels.eq(l).any().item<bool>()) << "no box on level " << l;
    }
  }
  const ops::MultiScaleRoIAlign pool({"7", "9"}, {7, 7}, 2);
  EXPECT_THROW(pool({{"0", at::zeros({1, 1, 8, 8})}}, {at::zeros({0, 4})}, {{32, 32}}), modelzoo::Error);
}

TEST(Layers, FrozenBatchNormAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("frozen_bn")) {
    ops::FrozenBatchNorm2d bn(6, p["eps"].get<double>());
    bn->weight.copy_(o.t(name, "weight"));
    bn->bias.copy_(o.t(name, "bias"));
    bn->running_mean.copy_(o.t(name, "running_mean"));
    bn->running_var.copy_(o.t(name, "running_var"));
    expect_equal(bn->forward(o.t(name, "x")), o.t(name, "out"), name);
    std::vector<std::string> keys;
    for (const auto& item : modelzoo::state_dict::state_dict(*bn)) keys.push_back(item.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var"}));
  }
}

TEST(Layers, FeaturePyramidNetworkAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("fpn")) {
    ops::FeaturePyramidNetworkOptions opt(p["in_channels"].get<std::vector<int64_t>>(), 8);
    opt.extra_block(p["extra"] == "p6p7" ? ops::ExtraFPNBlock::LastLevelP6P7 : ops::ExtraFPNBlock::LastLevelMaxPool);
    if (p.contains("p6p7_in")) opt.p6p7_in_channels(p["p6p7_in"]);
    if (p["norm"] == "bn") opt.norm(modelzoo::models::batch_norm2d_factory());
    ops::FeaturePyramidNetwork fpn(opt, modelzoo::models::InitPolicy::uninitialised());
    std::vector<std::string> keys;
    for (const auto& item : modelzoo::state_dict::state_dict(*fpn)) keys.push_back(item.key());
    EXPECT_EQ(keys, p["state_keys"].get<std::vector<std::string>>()) << name;
    modelzoo::io::StateDict sd;
    for (const auto& [k, v] : o.fields(name, "sd.")) sd.insert(k, v);
    const auto report = modelzoo::state_dict::load_state_dict(*fpn, sd);
    ASSERT_TRUE(report.ok()) << report.to_string();
    fpn->eval();
    ops::FeatureMaps in;
    for (const auto& n : p["in_names"]) in.emplace_back(n.get<std::string>(), o.t(name, "in." + n.get<std::string>()));
    at::NoGradGuard no_grad;
    const ops::FeatureMaps out = fpn->forward(in);
    ASSERT_EQ(out.size(), p["out_names"].size()) << name;
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].first, p["out_names"][i].get<std::string>()) << name;
      expect_close(out[i].second, o.t(name, "out." + out[i].first), 1e-5, name + " " + out[i].first);
    }
  }
}

TEST(Anchors, GridAnchorsAndDefaultBoxesAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("anchors")) {
    const ops::AnchorGenerator gen(p["sizes"].get<std::vector<std::vector<double>>>(),
                                   p["ratios"].get<std::vector<std::vector<double>>>());
    std::vector<at::Tensor> maps;
    for (const auto& f : p["feature_sizes"]) maps.push_back(at::zeros({2, 1, f[0].get<int64_t>(), f[1].get<int64_t>()}));
    const auto out = gen({p["image_size"][0], p["image_size"][1]}, maps, 2);
    ASSERT_EQ(out.size(), 2u);
    expect_equal(out[0], o.t(name, "out"), name);
    expect_equal(out[1], o.t(name, "out1"), name);
  }
  for (const auto& [name, p] : o.cases("default_boxes")) {
    std::vector<double> scales;
    if (p.contains("scales")) scales = p["scales"].get<std::vector<double>>();
    std::optional<std::vector<int64_t>> steps;
    if (p.contains("steps")) steps = p["steps"].get<std::vector<int64_t>>();
    const ops::DefaultBoxGenerator gen(p["ratios"].get<std::vector<std::vector<double>>>(), p.value("min_ratio", 0.15),
                                       p.value("max_ratio", 0.9), scales, steps, p.value("clip", true));
    EXPECT_EQ(gen.scales(), p["scales_out"].get<std::vector<double>>()) << name;
    std::vector<at::Tensor> maps;
    for (const auto& f : p["feature_sizes"]) maps.push_back(at::zeros({2, 1, f[0].get<int64_t>(), f[1].get<int64_t>()}));
    const auto out = gen({p["image_size"][0], p["image_size"][1]}, maps, 2);
    expect_equal(out[0], o.t(name, "out"), name);
  }
}

TEST(Postprocess, PasteMasksAndKeypointsAsTorchvision) {
  const Oracle& o = Oracle::get();
  for (const auto& [name, p] : o.cases("paste_masks")) {
    expect_equal(ops::paste_masks_in_image(o.t(name, "masks"), o.t(name, "boxes"), {p["height"], p["width"]}),
                 o.t(name, "out"), name);
  }
  for (const auto& [name, p] : o.cases("keypoints")) {
    const auto [kp, scores] = ops::heatmaps_to_keypoints(o.t(name, "maps"), o.t(name, "rois"));
    expect_equal(kp, o.t(name, "out"), name);
    expect_equal(scores, o.t(name, "scores"), name + " scores");
  }
}

}  // namespace
