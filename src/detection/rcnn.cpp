#include "modelzoo/detection/rcnn.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "detection/args.h"
#include "modelzoo/error.h"
#include "modelzoo/models/blocks.h"
#include "modelzoo/ops/postprocess.h"

namespace modelzoo::detection {
namespace {

using models::Conv2d;
using models::Conv2dOptions;
using models::InitPolicy;
using models::LayerPtr;
using models::ParamInit;

InitPolicy normal_001(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::normal(0.0, 0.01);
  p.conv_bias = ParamInit::zeros();
  return p;
}

InitPolicy kaiming_relu(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::kaiming_normal(models::FanMode::FanOut, models::Nonlinearity::ReLU);
  p.conv_bias = ParamInit::zeros();
  return p;
}

// torchvision's TwoMLPHead: flatten, relu(fc6), relu(fc7).
class TwoMLPHeadImpl : public models::LayerImpl {
 public:
  TwoMLPHeadImpl(int64_t in, int64_t rep, const InitPolicy& init) : models::LayerImpl("TwoMLPHead") {
    fc6 = register_module("fc6", models::Linear(models::LinearOptions(in, rep), init));
    fc7 = register_module("fc7", models::Linear(models::LinearOptions(rep, rep), init));
  }
  at::Tensor forward(const at::Tensor& x) override {
    return fc7->forward(fc6->forward(x.flatten(1)).relu_()).relu_();
  }
  models::Linear fc6{nullptr}, fc7{nullptr};
};
TORCH_MODULE(TwoMLPHead);

// torchvision's FastRCNNConvFCHead: convs (with norm), Flatten, Linear + ReLU per fc layer.
LayerPtr conv_fc_head(int64_t in, int64_t res, const std::vector<int64_t>& convs, const std::vector<int64_t>& fcs,
                      const models::NormFactory& norm, const InitPolicy& policy) {
  const InitPolicy init = kaiming_relu(policy);
  models::Sequential s;
  int64_t c = in;
  for (int64_t out : convs) {
    s->push_back(models::Conv2dNormActivation(models::Conv2dNormActivationOptions(c, out, 3).norm(norm), init));
    c = out;
  }
  s->push_back(models::Flatten());
  int64_t f = c * res * res;
  for (int64_t out : fcs) {
    s->push_back(models::Linear(models::LinearOptions(f, out), policy));
    s->push_back(models::ReLU());
    f = out;
  }
  return s.ptr();
}

// torchvision's MaskRCNNHeads: 3x3 Conv2dNormActivation per layer.
LayerPtr mask_head(int64_t in, const std::vector<int64_t>& layers, int64_t dilation, const models::NormFactory& norm,
                   const InitPolicy& policy) {
  const InitPolicy init = kaiming_relu(policy);
  models::Sequential s;
  int64_t c = in;
  for (int64_t out : layers) {
    s->push_back(models::Conv2dNormActivation(
        models::Conv2dNormActivationOptions(c, out, 3).padding(dilation).dilation(dilation).norm(norm), init));
    c = out;
  }
  return s.ptr();
}

// torchvision's MaskRCNNPredictor: conv5_mask (transposed 2x2, stride 2), relu, mask_fcn_logits (1x1).
LayerPtr mask_predictor(int64_t in, int64_t dim, int64_t classes, const InitPolicy& policy) {
  InitPolicy init = policy;
  init.conv_weight = ParamInit::kaiming_normal(models::FanMode::FanOut, models::Nonlinearity::ReLU);
  models::Sequential s;
  s->push_back("conv5_mask", ConvTranspose2d(in, dim, 2, 2, 0, policy));
  s->push_back("relu", models::ReLU());
  s->push_back("mask_fcn_logits", Conv2d(Conv2dOptions(dim, classes, 1), init));
  return s.ptr();
}

// torchvision's KeypointRCNNHeads: 8 x (3x3 conv 512, ReLU).
LayerPtr keypoint_head(int64_t in, const std::vector<int64_t>& layers, const InitPolicy& policy) {
  const InitPolicy init = kaiming_relu(policy);
  models::Sequential s;
  int64_t c = in;
  for (int64_t out : layers) {
    s->push_back(Conv2d(Conv2dOptions(c, out, 3).padding(1), init));
    s->push_back(models::ReLU());
    c = out;
  }
  return s.ptr();
}

// torchvision's KeypointRCNNPredictor: kps_score_lowres (transposed 4x4, stride 2), then bilinear x2.
class KeypointRCNNPredictorImpl : public models::LayerImpl {
 public:
  KeypointRCNNPredictorImpl(int64_t in, int64_t keypoints, const InitPolicy& policy)
      : models::LayerImpl("KeypointRCNNPredictor") {
    InitPolicy p = policy;
    kps_score_lowres = register_module("kps_score_lowres", ConvTranspose2d(in, keypoints, 4, 2, 1, p));
    if (policy.enabled) kps_score_lowres->bias.detach().zero_();
  }
  at::Tensor forward(const at::Tensor& x) override {
    const at::Tensor y = kps_score_lowres->forward(x);
    return at::upsample_bilinear2d(y, c10::nullopt, false, std::vector<double>{2.0, 2.0});
  }
  ConvTranspose2d kps_score_lowres{nullptr};
};
TORCH_MODULE(KeypointRCNNPredictor);

}  // namespace

RPNHeadImpl::RPNHeadImpl(int64_t in, int64_t num_anchors, int64_t conv_depth, const InitPolicy& policy) {
  const InitPolicy init = normal_001(policy);
  models::Sequential c;
  for (int64_t i = 0; i < conv_depth; ++i) {
    c->push_back(models::Conv2dNormActivation(models::Conv2dNormActivationOptions(in, in, 3).norm(nullptr), init));
  }
  conv = register_module("conv", c);
  cls_logits = register_module("cls_logits", Conv2d(Conv2dOptions(in, num_anchors, 1), init));
  bbox_pred = register_module("bbox_pred", Conv2d(Conv2dOptions(in, num_anchors * 4, 1), init));
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> RPNHeadImpl::forward(const std::vector<at::Tensor>& x) {
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> out;
  for (const auto& f : x) {
    const at::Tensor t = conv->forward(f);
    out.first.push_back(cls_logits->forward(t));
    out.second.push_back(bbox_pred->forward(t));
  }
  return out;
}

RegionProposalNetworkImpl::RegionProposalNetworkImpl(ops::AnchorGenerator anchors, RPNHead h, RPNOptions options)
    : head(register_module("head", std::move(h))),
      anchors_(std::move(anchors)),
      coder_({1.0, 1.0, 1.0, 1.0}),
      options_(options) {}

namespace {

// N x (A*C) x H x W -> N x (H*W*A) x C (torchvision's permute_and_flatten).
at::Tensor permute_and_flatten(const at::Tensor& layer, int64_t n, int64_t c, int64_t h, int64_t w) {
  return layer.view({n, -1, c, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, c});
}

}  // namespace

std::vector<at::Tensor> RegionProposalNetworkImpl::forward(const ImageList& images, const ops::FeatureMaps& features,
                                                           std::vector<at::Tensor>* scores_out) {
  std::vector<at::Tensor> feats;
  for (const auto& f : features) feats.push_back(f.second);
  auto [objectness, deltas] = head->forward(feats);
  const int64_t n = images.tensors.size(0);
  const std::vector<at::Tensor> anchors =
      anchors_({images.tensors.size(-2), images.tensors.size(-1)}, feats, n);
  std::vector<int64_t> per_level;
  std::vector<at::Tensor> cls_flat, reg_flat;
  for (std::size_t l = 0; l < objectness.size(); ++l) {
    const at::Tensor& o = objectness[l];
    per_level.push_back(o.size(1) * o.size(2) * o.size(3));
    const int64_t a = deltas[l].size(1) / 4;
    const int64_t c = o.size(1) / a;
    cls_flat.push_back(permute_and_flatten(o, n, c, o.size(2), o.size(3)));
    reg_flat.push_back(permute_and_flatten(deltas[l], n, 4, o.size(2), o.size(3)));
  }
  const at::Tensor box_cls = at::cat(cls_flat, 1).flatten(0, -2);
  const at::Tensor box_reg = at::cat(reg_flat, 1).reshape({-1, 4});
  const at::Tensor proposals = coder_.decode(box_reg.detach(), anchors).view({n, -1, 4});

  // filter_proposals
  at::Tensor obj = box_cls.detach().reshape({n, -1});
  std::vector<at::Tensor> lv;
  for (std::size_t l = 0; l < per_level.size(); ++l) {
    lv.push_back(at::full({per_level[l]}, static_cast<int64_t>(l), at::kLong));
  }
  const at::Tensor levels = at::cat(lv, 0).reshape({1, -1}).expand_as(obj);
  std::vector<at::Tensor> top;
  int64_t offset = 0;
  for (const at::Tensor& ob : obj.split_with_sizes(per_level, 1)) {
    const int64_t k = std::min(options_.pre_nms_top_n, ob.size(1));
    top.push_back(std::get<1>(ob.topk(k, 1)) + offset);
    offset += ob.size(1);
  }
  const at::Tensor top_idx = at::cat(top, 1);
  const at::Tensor batch_idx = at::arange(n).unsqueeze(1);
  obj = obj.index({batch_idx, top_idx});
  const at::Tensor lvl_sel = levels.index({batch_idx, top_idx});
  const at::Tensor props = proposals.index({batch_idx, top_idx});
  const at::Tensor prob = at::sigmoid(obj);
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    at::Tensor boxes = ops::clip_boxes_to_image(props[i], images.image_sizes[static_cast<std::size_t>(i)]);
    at::Tensor sc = prob[i], lvl = lvl_sel[i];
    at::Tensor keep = ops::remove_small_boxes(boxes, 1e-3);
    boxes = boxes.index_select(0, keep), sc = sc.index_select(0, keep), lvl = lvl.index_select(0, keep);
    keep = at::where(sc.ge(options_.score_thresh))[0];
    boxes = boxes.index_select(0, keep), sc = sc.index_select(0, keep), lvl = lvl.index_select(0, keep);
    keep = ops::batched_nms(boxes, sc, lvl, options_.nms_thresh);
    keep = keep.narrow(0, 0, std::min(options_.post_nms_top_n, keep.size(0)));
    out.push_back(boxes.index_select(0, keep));
    if (scores_out) scores_out->push_back(sc.index_select(0, keep));
  }
  return out;
}

FastRCNNPredictorImpl::FastRCNNPredictorImpl(int64_t in, int64_t num_classes, const InitPolicy& policy) {
  cls_score = register_module("cls_score", models::Linear(models::LinearOptions(in, num_classes), policy));
  bbox_pred = register_module("bbox_pred", models::Linear(models::LinearOptions(in, num_classes * 4), policy));
}

std::pair<at::Tensor, at::Tensor> FastRCNNPredictorImpl::forward(const at::Tensor& x) {
  const at::Tensor f = x.flatten(1);
  return {cls_score->forward(f), bbox_pred->forward(f)};
}

RoIHeadsImpl::RoIHeadsImpl(ops::MultiScaleRoIAlign box_roi_pool, LayerPtr head, FastRCNNPredictor predictor,
                           RoIHeadsOptions options)
    : box_head(register_module("box_head", std::move(head))),
      box_predictor(register_module("box_predictor", std::move(predictor))),
      box_pool_(std::move(box_roi_pool)),
      coder_(options.bbox_reg_weights),
      options_(options) {}

void RoIHeadsImpl::set_mask_branch(ops::MultiScaleRoIAlign pool, LayerPtr head, LayerPtr predictor) {
  mask_pool_ = std::move(pool);
  mask_head = register_module("mask_head", std::move(head));
  mask_predictor = register_module("mask_predictor", std::move(predictor));
}

void RoIHeadsImpl::set_keypoint_branch(ops::MultiScaleRoIAlign pool, LayerPtr head, LayerPtr predictor) {
  keypoint_pool_ = std::move(pool);
  keypoint_head = register_module("keypoint_head", std::move(head));
  keypoint_predictor = register_module("keypoint_predictor", std::move(predictor));
}

std::vector<Detection> RoIHeadsImpl::forward(const ops::FeatureMaps& features, const std::vector<at::Tensor>& proposals,
                                             const std::vector<std::pair<int64_t, int64_t>>& image_shapes) {
  const at::Tensor pooled = box_pool_(features, proposals, image_shapes);
  auto [logits, regression] = box_predictor->forward(box_head->forward(pooled));
  const int64_t num_classes = logits.size(-1);
  std::vector<int64_t> per_image;
  for (const auto& p : proposals) per_image.push_back(p.size(0));
  const at::Tensor pred_boxes = coder_.decode(regression, proposals);
  const at::Tensor pred_scores = at::softmax(logits, -1);
  const auto boxes_list = pred_boxes.split_with_sizes(per_image, 0);
  const auto scores_list = pred_scores.split_with_sizes(per_image, 0);
  std::vector<Detection> result;
  using namespace at::indexing;
  for (std::size_t i = 0; i < proposals.size(); ++i) {
    at::Tensor boxes = ops::clip_boxes_to_image(boxes_list[i], image_shapes[i]);
    at::Tensor scores = scores_list[i];
    at::Tensor labels = at::arange(num_classes).view({1, -1}).expand_as(scores);
    boxes = boxes.index({Slice(), Slice(1, None)}).reshape({-1, 4});
    scores = scores.index({Slice(), Slice(1, None)}).reshape(-1);
    labels = labels.index({Slice(), Slice(1, None)}).reshape(-1);
    at::Tensor keep = at::where(scores.gt(options_.score_thresh))[0];
    boxes = boxes.index_select(0, keep), scores = scores.index_select(0, keep), labels = labels.index_select(0, keep);
    keep = ops::remove_small_boxes(boxes, 0.01);
    boxes = boxes.index_select(0, keep), scores = scores.index_select(0, keep), labels = labels.index_select(0, keep);
    keep = ops::batched_nms(boxes, scores, labels, options_.nms_thresh);
    keep = keep.narrow(0, 0, std::min(options_.detections_per_img, keep.size(0)));
    Detection d;
    d.boxes = boxes.index_select(0, keep);
    d.scores = scores.index_select(0, keep);
    d.labels = labels.index_select(0, keep);
    result.push_back(std::move(d));
  }
  std::vector<at::Tensor> det_boxes;
  std::vector<int64_t> counts;
  for (const auto& d : result) {
    det_boxes.push_back(d.boxes);
    counts.push_back(d.boxes.size(0));
  }
  if (mask_pool_) {
    const at::Tensor x = mask_predictor->forward(mask_head->forward((*mask_pool_)(features, det_boxes, image_shapes)));
    std::vector<at::Tensor> labels;
    for (const auto& d : result) labels.push_back(d.labels);
    const at::Tensor all_labels = at::cat(labels);
    const at::Tensor prob = x.sigmoid().index({at::arange(x.size(0)), all_labels}).unsqueeze(1);
    const auto split = prob.split_with_sizes(counts, 0);
    for (std::size_t i = 0; i < result.size(); ++i) result[i].masks = split[i];
  }
  if (keypoint_pool_) {
    const at::Tensor x =
        keypoint_predictor->forward(keypoint_head->forward((*keypoint_pool_)(features, det_boxes, image_shapes)));
    const auto split = x.split_with_sizes(counts, 0);
    for (std::size_t i = 0; i < result.size(); ++i) {
      auto [kp, ks] = ops::heatmaps_to_keypoints(split[i], det_boxes[i]);
      result[i].keypoints = kp;
      result[i].keypoint_scores = ks;
    }
  }
  return result;
}

GeneralizedRCNNImpl::GeneralizedRCNNImpl(std::string name, GeneralizedRCNNTransform transform, BackboneWithFPN b,
                                         RegionProposalNetwork r, RoIHeads h)
    : DetectorImpl(std::move(name)), transform_(std::move(transform)) {
  backbone = register_module("backbone", std::move(b));
  rpn = register_module("rpn", std::move(r));
  roi_heads = register_module("roi_heads", std::move(h));
}

std::vector<Detection> GeneralizedRCNNImpl::detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) {
  check_inputs(images);
  c10::NoGradGuard no_grad;
  std::vector<std::pair<int64_t, int64_t>> original;
  for (const auto& im : images) original.emplace_back(im.size(-2), im.size(-1));
  const ImageList batch = transform_(images);
  const ops::FeatureMaps features = backbone->forward(batch.tensors);
  std::vector<at::Tensor> scores;
  const std::vector<at::Tensor> proposals = rpn->forward(batch, features, trace ? &scores : nullptr);
  std::vector<Detection> dets = roi_heads->forward(features, proposals, batch.image_sizes);
  if (trace) {
    trace->batch = batch.tensors;
    trace->image_sizes = batch.image_sizes;
    trace->features = features;
    trace->proposals = proposals;
    trace->proposal_scores = scores;
  }
  transform_.postprocess(dets, batch.image_sizes, original);
  return dets;
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

namespace {

const std::vector<std::string> kRcnnKeys = {
    "min_size", "max_size", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_test", "rpn_nms_thresh",
    "rpn_score_thresh", "box_score_thresh", "box_nms_thresh", "box_detections_per_img", "frozen_bn_eps",
    "trainable_backbone_layers", "num_keypoints"};

struct RcnnConfig {
  std::string builder, cls = "FasterRCNN";
  enum class Body { ResNet50, MobileNetV3 } body = Body::ResNet50;
  bool v2 = false;
  bool mask = false, keypoint = false;
  int64_t min_size = 800, max_size = 1333;
  RPNOptions rpn;
};

Detector build_rcnn(const RcnnConfig& cfg, const DetectorArgs& args) {
  const detail::Args a(args, cfg.builder, kRcnnKeys);
  if (args.extra.contains("num_keypoints") && !cfg.keypoint) {
    throw Error(cfg.builder + ": unknown builder argument 'num_keypoints' (keypoint models only)");
  }
  if (args.num_classes < 2) throw Error(cfg.builder + ": num_classes must be at least 2 (background + 1)");
  const InitPolicy policy = InitPolicy::torch_default(args.init_weights);
  const models::NormFactory norm =
      cfg.v2 ? models::batch_norm2d_factory() : ops::frozen_batch_norm2d_factory(a.number("frozen_bn_eps", 1e-5));

  BackboneWithFPN backbone{nullptr};
  ops::AnchorGenerator anchors({{32}, {64}, {128}, {256}, {512}}, std::vector<std::vector<double>>(5, {0.5, 1.0, 2.0}));
  if (cfg.body == RcnnConfig::Body::ResNet50) {
    auto body = ResNetBody(ResNetBodyOptions().norm(norm), policy);
    backbone = BackboneWithFPN(body.ptr(),
                               ops::FeaturePyramidNetworkOptions({}, 256).norm(cfg.v2 ? models::batch_norm2d_factory()
                                                                                      : models::NormFactory()),
                               policy);
  } else {
    auto body = MobileNetV3Body(norm, std::vector<int64_t>{13, 16}, policy);
    backbone = BackboneWithFPN(body.ptr(), ops::FeaturePyramidNetworkOptions({}, 256), policy);
    anchors = ops::AnchorGenerator(std::vector<std::vector<double>>(3, {32, 64, 128, 256, 512}),
                                   std::vector<std::vector<double>>(3, {0.5, 1.0, 2.0}));
  }
  RPNOptions rpn = cfg.rpn;
  rpn.pre_nms_top_n = a.integer("rpn_pre_nms_top_n_test", rpn.pre_nms_top_n);
  rpn.post_nms_top_n = a.integer("rpn_post_nms_top_n_test", rpn.post_nms_top_n);
  rpn.nms_thresh = a.number("rpn_nms_thresh", rpn.nms_thresh);
  rpn.score_thresh = a.number("rpn_score_thresh", rpn.score_thresh);
  const int64_t out = backbone->out_channels();
  RPNHead head(out, anchors.num_anchors_per_location()[0], cfg.v2 ? 2 : 1, policy);
  RegionProposalNetwork rpn_module(anchors, head, rpn);

  const std::vector<std::string> levels = {"0", "1", "2", "3"};
  LayerPtr box_head = cfg.v2 ? conv_fc_head(out, 7, {256, 256, 256, 256}, {1024}, models::batch_norm2d_factory(), policy)
                             : TwoMLPHead(out * 7 * 7, 1024, policy).ptr();
  RoIHeadsOptions ro;
  ro.score_thresh = a.number("box_score_thresh", ro.score_thresh);
  ro.nms_thresh = a.number("box_nms_thresh", ro.nms_thresh);
  ro.detections_per_img = a.integer("box_detections_per_img", ro.detections_per_img);
  RoIHeads heads(ops::MultiScaleRoIAlign(levels, {7, 7}, 2), box_head, FastRCNNPredictor(1024, args.num_classes, policy),
                 ro);
  if (cfg.mask) {
    heads->set_mask_branch(ops::MultiScaleRoIAlign(levels, {14, 14}, 2),
                           mask_head(out, {256, 256, 256, 256}, 1,
                                     cfg.v2 ? models::batch_norm2d_factory() : models::NormFactory(), policy),
                           mask_predictor(256, 256, args.num_classes, policy));
  }
  if (cfg.keypoint) {
    const int64_t k = a.integer("num_keypoints", 17);
    if (k < 1) throw Error(cfg.builder + ": num_keypoints must be positive");
    heads->set_keypoint_branch(ops::MultiScaleRoIAlign(levels, {14, 14}, 2),
                               keypoint_head(out, std::vector<int64_t>(8, 512), policy),
                               KeypointRCNNPredictor(512, k, policy).ptr());
  }
  TransformOptions t;
  t.min_size = a.last_integer("min_size", cfg.min_size);
  t.max_size = a.integer("max_size", cfg.max_size);
  auto model = std::make_shared<GeneralizedRCNNImpl>(cfg.cls, GeneralizedRCNNTransform(t), backbone, rpn_module, heads);
  model->eval();
  return Detector(model);
}

}  // namespace

Detector fasterrcnn_resnet50_fpn(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "fasterrcnn_resnet50_fpn";
  return build_rcnn(c, args);
}

Detector fasterrcnn_resnet50_fpn_v2(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "fasterrcnn_resnet50_fpn_v2";
  c.v2 = true;
  return build_rcnn(c, args);
}

Detector fasterrcnn_mobilenet_v3_large_fpn(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "fasterrcnn_mobilenet_v3_large_fpn";
  c.body = RcnnConfig::Body::MobileNetV3;
  c.rpn.score_thresh = 0.05;
  return build_rcnn(c, args);
}

Detector fasterrcnn_mobilenet_v3_large_320_fpn(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "fasterrcnn_mobilenet_v3_large_320_fpn";
  c.body = RcnnConfig::Body::MobileNetV3;
  c.min_size = 320;
  c.max_size = 640;
  c.rpn.pre_nms_top_n = 150;
  c.rpn.post_nms_top_n = 150;
  c.rpn.score_thresh = 0.05;
  return build_rcnn(c, args);
}

Detector maskrcnn_resnet50_fpn(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "maskrcnn_resnet50_fpn";
  c.cls = "MaskRCNN";
  c.mask = true;
  return build_rcnn(c, args);
}

Detector maskrcnn_resnet50_fpn_v2(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "maskrcnn_resnet50_fpn_v2";
  c.cls = "MaskRCNN";
  c.mask = true;
  c.v2 = true;
  return build_rcnn(c, args);
}

Detector keypointrcnn_resnet50_fpn(const DetectorArgs& args) {
  RcnnConfig c;
  c.builder = "keypointrcnn_resnet50_fpn";
  c.cls = "KeypointRCNN";
  c.keypoint = true;
  return build_rcnn(c, args);
}

}  // namespace modelzoo::detection
