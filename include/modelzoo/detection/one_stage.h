#pragma once
/// \file
/// One-stage detectors as torchvision 0.14 builds them: RetinaNet (Lin et
/// al., 2017) and FCOS (Tian et al., 2019), both on a ResNet-50 + FPN
/// backbone with P6/P7 levels. Children `backbone` and `head`, with
/// torchvision's names (`head.classification_head.conv.0.0.weight`, ...).

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/detection/backbones.h"
#include "modelzoo/detection/detector.h"
#include "modelzoo/detection/transform.h"
#include "modelzoo/ops/anchors.h"
#include "modelzoo/ops/boxes.h"

namespace modelzoo::detection {

/// Eval settings shared by RetinaNet and FCOS.
struct OneStageOptions {
  double score_thresh = 0.05;        ///< RetinaNet 0.05, FCOS 0.2
  double nms_thresh = 0.5;           ///< RetinaNet 0.5, FCOS 0.6
  int64_t detections_per_img = 300;  ///< RetinaNet 300, FCOS 100
  int64_t topk_candidates = 1000;    ///< per level, before NMS
};

/// One branch of a one-stage head: `conv` (a Sequential) and the prediction
/// convolutions, applied to every level and flattened to N x (H*W*A) x C.
class HeadBranchImpl : public torch::nn::Module {
 public:
  /// An empty branch; the builder registers `conv` and the outputs.
  HeadBranchImpl() = default;
  /// conv then `out` on every level, each reshaped to N x (H*W*A) x `channels`.
  at::Tensor apply(const std::vector<at::Tensor>& x, const models::LayerPtr& out, int64_t channels);
  /// The shared trunk of every level.
  at::Tensor trunk(const at::Tensor& x) { return conv->forward(x); }

  models::Sequential conv{nullptr};  ///< "conv"
};
/// Handle of HeadBranchImpl.
TORCH_MODULE(HeadBranch);

/// RetinaNet or FCOS: transform -> backbone -> head -> per-level top-k ->
/// batched NMS -> original sizes.
class OneStageDetectorImpl : public DetectorImpl {
 public:
  /// Which decoding the head's outputs get.
  enum class Kind { RetinaNet, FCOS };
  /// Assembles the parts; `num_classes` per anchor.
  OneStageDetectorImpl(Kind kind, int64_t num_classes, GeneralizedRCNNTransform transform, BackboneWithFPN backbone,
                       ops::AnchorGenerator anchors, OneStageOptions options, const models::InitPolicy& policy,
                       const models::NormFactory& head_norm);
  std::vector<Detection> detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) override;
  void set_score_thresh(double thresh) override { options_.score_thresh = thresh; }

  BackboneWithFPN backbone{nullptr};  ///< "backbone"
  /// "head" with children classification_head and regression_head.
  std::shared_ptr<torch::nn::Module> head;
  HeadBranch classification_head{nullptr};  ///< "head.classification_head"
  HeadBranch regression_head{nullptr};      ///< "head.regression_head"
  models::Conv2d cls_logits{nullptr};       ///< "head.classification_head.cls_logits"
  models::Conv2d bbox_reg{nullptr};         ///< "head.regression_head.bbox_reg"
  models::Conv2d bbox_ctrness{nullptr};     ///< "head.regression_head.bbox_ctrness" (FCOS)

 private:
  Kind kind_;
  int64_t num_classes_;
  GeneralizedRCNNTransform transform_;
  ops::AnchorGenerator anchors_;
  OneStageOptions options_;
};
/// Handle of OneStageDetectorImpl.
TORCH_MODULE(OneStageDetector);

/// retinanet_resnet50_fpn. Builder arguments: min_size, max_size,
/// score_thresh, nms_thresh, detections_per_img, topk_candidates,
/// frozen_bn_eps, trainable_backbone_layers.
Detector retinanet_resnet50_fpn(const DetectorArgs& args);
/// retinanet_resnet50_fpn_v2 (BatchNorm2d backbone, P6 from C5, GroupNorm heads).
Detector retinanet_resnet50_fpn_v2(const DetectorArgs& args);
/// fcos_resnet50_fpn.
Detector fcos_resnet50_fpn(const DetectorArgs& args);

/// Renames of RetinaNet head keys saved before torchvision 0.13
/// (`conv.2.weight` -> `conv.1.0.weight`).
std::vector<std::pair<std::string, std::string>> retinanet_legacy_key_renames();

}  // namespace modelzoo::detection
