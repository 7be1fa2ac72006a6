#pragma once
/// \file
/// The R-CNN family as torchvision 0.14 composes it: GeneralizedRCNN =
/// transform -> backbone (body + FPN) -> RegionProposalNetwork -> RoIHeads
/// (box head and predictor, optionally mask and keypoint branches) ->
/// postprocess to the original image sizes. Faster R-CNN, Mask R-CNN and
/// Keypoint R-CNN differ only in which RoIHeads branches exist. Module and
/// parameter names are torchvision's (`backbone.body.layer1.0.conv1.weight`,
/// `rpn.head.conv.0.0.weight`, `roi_heads.box_predictor.cls_score.weight`, ...).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/detection/backbones.h"
#include "modelzoo/detection/detector.h"
#include "modelzoo/detection/transform.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/ops/anchors.h"
#include "modelzoo/ops/boxes.h"
#include "modelzoo/ops/roi_align.h"

namespace modelzoo::detection {

/// torchvision's RPNHead: `conv` (conv_depth 3x3 Conv2dNormActivation with
/// ReLU), `cls_logits` (1x1 -> A), `bbox_pred` (1x1 -> 4A); normal(0, 0.01)
/// weights and zero biases when initialised.
class RPNHeadImpl : public torch::nn::Module {
 public:
  /// `num_anchors` per location.
  RPNHeadImpl(int64_t in_channels, int64_t num_anchors, int64_t conv_depth, const models::InitPolicy& policy);
  /// Objectness and box deltas per level.
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> forward(const std::vector<at::Tensor>& x);

  models::Sequential conv{nullptr};  ///< shared 3x3 trunk
  models::Conv2d cls_logits{nullptr};  ///< objectness
  models::Conv2d bbox_pred{nullptr};   ///< deltas
};
/// Handle of RPNHeadImpl.
TORCH_MODULE(RPNHead);

/// The eval settings of a RegionProposalNetwork.
struct RPNOptions {
  int64_t pre_nms_top_n = 1000;   ///< per level, before NMS (rpn_pre_nms_top_n_test)
  int64_t post_nms_top_n = 1000;  ///< per image, after NMS (rpn_post_nms_top_n_test)
  double nms_thresh = 0.7;        ///< rpn_nms_thresh
  double score_thresh = 0.0;      ///< rpn_score_thresh
};

/// torchvision's RegionProposalNetwork in eval: child `head`.
class RegionProposalNetworkImpl : public torch::nn::Module {
 public:
  /// The anchor generator and head; box coder weights (1, 1, 1, 1).
  RegionProposalNetworkImpl(ops::AnchorGenerator anchors, RPNHead head, RPNOptions options);
  /// Proposals per image (and their objectness probabilities in `scores` when set).
  std::vector<at::Tensor> forward(const ImageList& images, const ops::FeatureMaps& features,
                                  std::vector<at::Tensor>* scores = nullptr);
  /// The options (mutable: thresholds may be changed after building).
  RPNOptions& options() { return options_; }

  RPNHead head{nullptr};  ///< "head"

 private:
  ops::AnchorGenerator anchors_;
  ops::BoxCoder coder_;
  RPNOptions options_;
};
/// Handle of RegionProposalNetworkImpl.
TORCH_MODULE(RegionProposalNetwork);

/// torchvision's FastRCNNPredictor: `cls_score` and `bbox_pred` linear layers.
class FastRCNNPredictorImpl : public torch::nn::Module {
 public:
  /// `num_classes` includes the background.
  FastRCNNPredictorImpl(int64_t in_channels, int64_t num_classes, const models::InitPolicy& policy);
  /// Class logits and per-class box deltas.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

  models::Linear cls_score{nullptr};  ///< -> num_classes
  models::Linear bbox_pred{nullptr};  ///< -> 4 * num_classes
};
/// Handle of FastRCNNPredictorImpl.
TORCH_MODULE(FastRCNNPredictor);

/// The eval settings of RoIHeads.
struct RoIHeadsOptions {
  double score_thresh = 0.05;   ///< box_score_thresh
  double nms_thresh = 0.5;      ///< box_nms_thresh
  int64_t detections_per_img = 100;  ///< box_detections_per_img
  std::array<double, 4> bbox_reg_weights{10.0, 10.0, 5.0, 5.0};
};

/// torchvision's RoIHeads in eval: children `box_head`, `box_predictor` and,
/// when present, `mask_head`, `mask_predictor`, `keypoint_head`, `keypoint_predictor`.
class RoIHeadsImpl : public torch::nn::Module {
 public:
  /// The box branch; add the others with set_mask_branch / set_keypoint_branch.
  RoIHeadsImpl(ops::MultiScaleRoIAlign box_roi_pool, models::LayerPtr box_head, FastRCNNPredictor box_predictor,
               RoIHeadsOptions options);
  /// Adds Mask R-CNN's branch.
  void set_mask_branch(ops::MultiScaleRoIAlign pool, models::LayerPtr head, models::LayerPtr predictor);
  /// Adds Keypoint R-CNN's branch.
  void set_keypoint_branch(ops::MultiScaleRoIAlign pool, models::LayerPtr head, models::LayerPtr predictor);
  /// Detections per image in the resized image coordinates.
  std::vector<Detection> forward(const ops::FeatureMaps& features, const std::vector<at::Tensor>& proposals,
                                 const std::vector<std::pair<int64_t, int64_t>>& image_shapes);
  /// The options (mutable).
  RoIHeadsOptions& options() { return options_; }

  models::LayerPtr box_head;            ///< TwoMLPHead or FastRCNNConvFCHead
  FastRCNNPredictor box_predictor{nullptr};
  models::LayerPtr mask_head, mask_predictor;
  models::LayerPtr keypoint_head, keypoint_predictor;

 private:
  ops::MultiScaleRoIAlign box_pool_;
  std::optional<ops::MultiScaleRoIAlign> mask_pool_, keypoint_pool_;
  ops::BoxCoder coder_;
  RoIHeadsOptions options_;
};
/// Handle of RoIHeadsImpl.
TORCH_MODULE(RoIHeads);

/// torchvision's GeneralizedRCNN (FasterRCNN, MaskRCNN, KeypointRCNN):
/// children `backbone`, `rpn`, `roi_heads`.
class GeneralizedRCNNImpl : public DetectorImpl {
 public:
  /// Assembles the parts; `name` is the Python class name.
  GeneralizedRCNNImpl(std::string name, GeneralizedRCNNTransform transform, BackboneWithFPN backbone,
                      RegionProposalNetwork rpn, RoIHeads roi_heads);
  std::vector<Detection> detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) override;
  void set_score_thresh(double thresh) override { roi_heads->options().score_thresh = thresh; }
  /// The transform.
  const GeneralizedRCNNTransform& transform() const { return transform_; }

  BackboneWithFPN backbone{nullptr};
  RegionProposalNetwork rpn{nullptr};
  RoIHeads roi_heads{nullptr};

 private:
  GeneralizedRCNNTransform transform_;
};
/// Handle of GeneralizedRCNNImpl.
TORCH_MODULE(GeneralizedRCNN);

/// fasterrcnn_resnet50_fpn. Builder arguments (DetectorArgs::extra):
/// min_size, max_size, rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test,
/// rpn_nms_thresh, rpn_score_thresh, box_score_thresh, box_nms_thresh,
/// box_detections_per_img, frozen_bn_eps (0.0 for the COCO_V1 weights, as
/// torchvision's overwrite_eps), trainable_backbone_layers (no effect in eval).
Detector fasterrcnn_resnet50_fpn(const DetectorArgs& args);
/// fasterrcnn_resnet50_fpn_v2 (BatchNorm2d everywhere, 2-conv RPN head, 4-conv + fc box head).
Detector fasterrcnn_resnet50_fpn_v2(const DetectorArgs& args);
/// fasterrcnn_mobilenet_v3_large_fpn.
Detector fasterrcnn_mobilenet_v3_large_fpn(const DetectorArgs& args);
/// fasterrcnn_mobilenet_v3_large_320_fpn (min_size 320, max_size 640, 150 proposals).
Detector fasterrcnn_mobilenet_v3_large_320_fpn(const DetectorArgs& args);
/// maskrcnn_resnet50_fpn.
Detector maskrcnn_resnet50_fpn(const DetectorArgs& args);
/// maskrcnn_resnet50_fpn_v2.
Detector maskrcnn_resnet50_fpn_v2(const DetectorArgs& args);
/// keypointrcnn_resnet50_fpn (2 classes, 17 keypoints; also "num_keypoints").
Detector keypointrcnn_resnet50_fpn(const DetectorArgs& args);

}  // namespace modelzoo::detection
