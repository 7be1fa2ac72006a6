#pragma once
/// \file
/// SSD (Liu et al., 2016) as torchvision 0.14's ssd300_vgg16 builds it:
/// `backbone` (SSDFeatureExtractorVGG: VGG-16 `features` up to conv4_3 with
/// an L2-normalised, learnt-scale output, then `extra` blocks: pool5 + the
/// dilated fc6/fc7 convolutions and four down-sampling blocks) and `head`
/// (`classification_head.module_list.<i>`, `regression_head.module_list.<i>`,
/// one 3x3 convolution per feature map), with DefaultBoxGenerator anchors,
/// a fixed 300 x 300 input and per-class top-k before batched NMS.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/detection/detector.h"
#include "modelzoo/detection/transform.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/ops/anchors.h"

namespace modelzoo::detection {

/// Eval settings of SSD.
struct SSDOptions {
  double score_thresh = 0.01;
  double nms_thresh = 0.45;
  int64_t detections_per_img = 200;
  int64_t topk_candidates = 400;  ///< per class
};

/// torchvision's SSD with the VGG-16 extractor.
class SSDImpl : public DetectorImpl {
 public:
  /// ssd300_vgg16's layout for `num_classes` (including background).
  SSDImpl(int64_t num_classes, SSDOptions options, TransformOptions transform, const models::InitPolicy& policy);
  std::vector<Detection> detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) override;
  void set_score_thresh(double thresh) override { options_.score_thresh = thresh; }

  /// "backbone" with children features, extra and parameter scale_weight.
  std::shared_ptr<torch::nn::Module> backbone;
  models::Sequential features{nullptr};  ///< VGG-16 layers 0..22
  std::vector<models::Sequential> extra;  ///< the extra blocks
  at::Tensor scale_weight;                ///< [512], the L2 norm's learnt scale
  /// "head": the per-level convolutions.
  std::shared_ptr<torch::nn::Module> head;
  std::vector<models::Conv2d> cls_logits, bbox_reg;

 private:
  int64_t num_classes_;
  SSDOptions options_;
  GeneralizedRCNNTransform transform_;
  ops::DefaultBoxGenerator anchors_;
};
/// Handle of SSDImpl.
TORCH_MODULE(SSD);

/// ssd300_vgg16. Builder arguments: score_thresh, nms_thresh,
/// detections_per_img, topk_candidates, trainable_backbone_layers.
Detector ssd300_vgg16(const DetectorArgs& args);

}  // namespace modelzoo::detection
