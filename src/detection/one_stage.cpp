#include "modelzoo/detection/one_stage.h"

#include <cmath>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "detection/args.h"
#include "modelzoo/error.h"
#include "modelzoo/ops/layers.h"

namespace modelzoo::detection {
namespace {

using models::Conv2d;
using models::Conv2dOptions;
using models::InitPolicy;
using models::ParamInit;

InitPolicy normal_001(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::normal(0.0, 0.01);
  p.conv_bias = ParamInit::zeros();
  return p;
}

// N x (A*C) x H x W -> N x (H*W*A) x C.
at::Tensor flatten_level(const at::Tensor& t, int64_t c) {
  const int64_t n = t.size(0), h = t.size(2), w = t.size(3);
  return t.view({n, -1, c, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, c});
}

}  // namespace

at::Tensor HeadBranchImpl::apply(const std::vector<at::Tensor>& x, const models::LayerPtr& out, int64_t channels) {
  std::vector<at::Tensor> all;
  for (const auto& f : x) all.push_back(flatten_level(out->forward(conv->forward(f)), channels));
  return at::cat(all, 1);
}

OneStageDetectorImpl::OneStageDetectorImpl(Kind kind, int64_t num_classes, GeneralizedRCNNTransform transform,
                                           BackboneWithFPN b, ops::AnchorGenerator anchors, OneStageOptions options,
                                           const InitPolicy& policy, const models::NormFactory& head_norm)
    : DetectorImpl(kind == Kind::RetinaNet ? "RetinaNet" : "FCOS"),
      kind_(kind),
      num_classes_(num_classes),
      transform_(std::move(transform)),
      anchors_(std::move(anchors)),
      options_(options) {
  backbone = register_module("backbone", std::move(b));
  head = register_module("head", std::make_shared<torch::nn::Module>(kind == Kind::RetinaNet ? "RetinaNetHead" : "FCOSHead"));
  classification_head = head->register_module("classification_head", HeadBranch());
  regression_head = head->register_module("regression_head", HeadBranch());
  const int64_t c = backbone->out_channels();
  const int64_t a = anchors_.num_anchors_per_location()[0];
  const InitPolicy init = normal_001(policy);
  for (HeadBranch* br : {&classification_head, &regression_head}) {
    models::Sequential conv;
    for (int i = 0; i < 4; ++i) {
      if (kind == Kind::RetinaNet) {
        conv->push_back(models::Conv2dNormActivation(models::Conv2dNormActivationOptions(c, c, 3).norm(head_norm), init));
      } else {
        conv->push_back(Conv2d(Conv2dOptions(c, c, 3).padding(1), init));
        conv->push_back(head_norm(c, init));
        conv->push_back(models::ReLU());
      }
    }
    (*br)->conv = (*br)->register_module("conv", conv);
  }
  // cls_logits bias: the prior probability 0.01, as torchvision.
  const double prior = -std::log((1 - 0.01) / 0.01);
  cls_logits = classification_head->register_module(
      "cls_logits", Conv2d(Conv2dOptions(c, a * num_classes, 3).padding(1).bias_init(ParamInit::constant(prior)), init));
  bbox_reg = regression_head->register_module("bbox_reg", Conv2d(Conv2dOptions(c, a * 4, 3).padding(1), init));
  if (kind == Kind::FCOS) {
    bbox_ctrness = regression_head->register_module("bbox_ctrness", Conv2d(Conv2dOptions(c, a, 3).padding(1), init));
  }
}

std::vector<Detection> OneStageDetectorImpl::detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) {
  check_inputs(images);
  c10::NoGradGuard no_grad;
  std::vector<std::pair<int64_t, int64_t>> original;
  for (const auto& im : images) original.emplace_back(im.size(-2), im.size(-1));
  const ImageList batch = transform_(images);
  const ops::FeatureMaps features = backbone->forward(batch.tensors);
  std::vector<at::Tensor> feats;
  for (const auto& f : features) feats.push_back(f.second);
  const at::Tensor logits = classification_head->apply(feats, cls_logits.ptr(), num_classes_);
  // One trunk pass per level feeds bbox_reg and (FCOS) bbox_ctrness.
  std::vector<at::Tensor> reg_levels, ctr_levels;
  for (const auto& f : feats) {
    const at::Tensor t = regression_head->trunk(f);
    at::Tensor r = bbox_reg->forward(t);
    if (kind_ == Kind::FCOS) {
      r = at::relu(r);
      ctr_levels.push_back(flatten_level(bbox_ctrness->forward(t), 1));
    }
    reg_levels.push_back(flatten_level(r, 4));
  }
  const at::Tensor regression = at::cat(reg_levels, 1);
  at::Tensor ctrness;
  if (kind_ == Kind::FCOS) ctrness = at::cat(ctr_levels, 1);
  const int64_t n = batch.tensors.size(0);
  const std::vector<at::Tensor> anchors = anchors_({batch.tensors.size(-2), batch.tensors.size(-1)}, feats, n);
  int64_t hw = 0;
  std::vector<int64_t> per_level;
  for (const auto& f : feats) {
    per_level.push_back(f.size(2) * f.size(3));
    hw += f.size(2) * f.size(3);
  }
  const int64_t a = logits.size(1) / hw;
  for (auto& v : per_level) v *= a;
  const ops::BoxCoder coder({1.0, 1.0, 1.0, 1.0});
  const ops::BoxLinearCoder linear(true);
  std::vector<Detection> dets;
  for (int64_t i = 0; i < n; ++i) {
    const auto lg = logits[i].split_with_sizes(per_level, 0);
    const auto rg = regression[i].split_with_sizes(per_level, 0);
    const auto an = anchors[static_cast<std::size_t>(i)].split_with_sizes(per_level, 0);
    std::vector<at::Tensor> ctr;
    if (ctrness.defined()) ctr = ctrness[i].split_with_sizes(per_level, 0);
    std::vector<at::Tensor> all_boxes, all_scores, all_labels;
    for (std::size_t l = 0; l < per_level.size(); ++l) {
      const int64_t classes = lg[l].size(-1);
      at::Tensor scores = kind_ == Kind::FCOS ? at::sqrt(at::sigmoid(lg[l]) * at::sigmoid(ctr[l])).flatten()
                                              : at::sigmoid(lg[l]).flatten();
      const at::Tensor keep = scores.gt(options_.score_thresh);
      scores = scores.index({keep});
      at::Tensor idx = at::where(keep)[0];
      const int64_t k = std::min(options_.topk_candidates, idx.size(0));
      auto [top_scores, order] = scores.topk(k);
      idx = idx.index_select(0, order);
      const at::Tensor anchor_idx = at::div(idx, classes, "floor");
      const at::Tensor labels = idx % classes;
      at::Tensor boxes = kind_ == Kind::FCOS
                             ? linear.decode(rg[l].index_select(0, anchor_idx), an[l].index_select(0, anchor_idx))
                             : coder.decode_single(rg[l].index_select(0, anchor_idx), an[l].index_select(0, anchor_idx));
      all_boxes.push_back(ops::clip_boxes_to_image(boxes, batch.image_sizes[static_cast<std::size_t>(i)]));
      all_scores.push_back(top_scores);
      all_labels.push_back(labels);
    }
    const at::Tensor boxes = at::cat(all_boxes, 0), scores = at::cat(all_scores, 0), labels = at::cat(all_labels, 0);
    at::Tensor keep = ops::batched_nms(boxes, scores, labels, options_.nms_thresh);
    keep = keep.narrow(0, 0, std::min(options_.detections_per_img, keep.size(0)));
    Detection d;
    d.boxes = boxes.index_select(0, keep);
    d.scores = scores.index_select(0, keep);
    d.labels = labels.index_select(0, keep);
    dets.push_back(std::move(d));
  }
  if (trace) {
    trace->batch = batch.tensors;
    trace->image_sizes = batch.image_sizes;
    trace->features = features;
  }
  transform_.postprocess(dets, batch.image_sizes, original);
  return dets;
}

namespace {

const std::vector<std::string> kOneStageKeys = {"min_size", "max_size", "score_thresh", "nms_thresh",
                                                "detections_per_img", "topk_candidates", "frozen_bn_eps",
                                                "trainable_backbone_layers"};

Detector build_one_stage(const std::string& builder, OneStageDetectorImpl::Kind kind, bool v2, const DetectorArgs& args) {
  const detail::Args a(args, builder, kOneStageKeys);
  if (args.num_classes < 1) throw Error(builder + ": num_classes must be positive");
  const InitPolicy policy = InitPolicy::torch_default(args.init_weights);
  const models::NormFactory norm =
      v2 ? models::batch_norm2d_factory() : ops::frozen_batch_norm2d_factory(a.number("frozen_bn_eps", 1e-5));
  auto body = ResNetBody(ResNetBodyOptions().norm(norm).returned_layers({2, 3, 4}), policy);
  BackboneWithFPN backbone(body.ptr(),
                           ops::FeaturePyramidNetworkOptions({}, 256)
                               .extra_block(ops::ExtraFPNBlock::LastLevelP6P7)
                               .p6p7_in_channels(v2 ? 2048 : 256),
                           policy);
  OneStageOptions o;
  std::vector<std::vector<double>> sizes, ratios;
  if (kind == OneStageDetectorImpl::Kind::RetinaNet) {
    for (double x : {32.0, 64.0, 128.0, 256.0, 512.0}) {
      sizes.push_back({x, std::floor(x * std::pow(2.0, 1.0 / 3)), std::floor(x * std::pow(2.0, 2.0 / 3))});
      ratios.push_back({0.5, 1.0, 2.0});
    }
  } else {
    for (double x : {8.0, 16.0, 32.0, 64.0, 128.0}) {
      sizes.push_back({x});
      ratios.push_back({1.0});
    }
    o.score_thresh = 0.2;
    o.nms_thresh = 0.6;
    o.detections_per_img = 100;
  }
  o.score_thresh = a.number("score_thresh", o.score_thresh);
  o.nms_thresh = a.number("nms_thresh", o.nms_thresh);
  o.detections_per_img = a.integer("detections_per_img", o.detections_per_img);
  o.topk_candidates = a.integer("topk_candidates", o.topk_candidates);
  TransformOptions t;
  t.min_size = a.last_integer("min_size", 800);
  t.max_size = a.integer("max_size", 1333);
  const models::NormFactory head_norm =
      (kind == OneStageDetectorImpl::Kind::FCOS || v2) ? group_norm_factory(32) : models::NormFactory();
  auto model = std::make_shared<OneStageDetectorImpl>(kind, args.num_classes, GeneralizedRCNNTransform(t), backbone,
                                                      ops::AnchorGenerator(sizes, ratios), o, policy, head_norm);
  model->eval();
  return Detector(model);
}

}  // namespace

Detector retinanet_resnet50_fpn(const DetectorArgs& args) {
  return build_one_stage("retinanet_resnet50_fpn", OneStageDetectorImpl::Kind::RetinaNet, false, args);
}

Detector retinanet_resnet50_fpn_v2(const DetectorArgs& args) {
  return build_one_stage("retinanet_resnet50_fpn_v2", OneStageDetectorImpl::Kind::RetinaNet, true, args);
}

Detector fcos_resnet50_fpn(const DetectorArgs& args) {
  return build_one_stage("fcos_resnet50_fpn", OneStageDetectorImpl::Kind::FCOS, false, args);
}

std::vector<std::pair<std::string, std::string>> retinanet_legacy_key_renames() {
  std::vector<std::pair<std::string, std::string>> r = ops::fpn_legacy_key_renames();
  for (const char* branch : {"classification", "regression"}) {
    const std::string prefix = std::string("head.") + branch + "_head.conv.";
    for (int i = 0; i < 4; ++i) {
      r.emplace_back("head\\." + std::string(branch) + "_head\\.conv\\." + std::to_string(2 * i) + "\\.(weight|bias)",
                     prefix + std::to_string(i) + ".0.$1");
    }
  }
  return r;
}

}  // namespace modelzoo::detection
