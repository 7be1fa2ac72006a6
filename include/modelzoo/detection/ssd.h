#pragma once
/// \file
/// SSD (Liu et al., 2016) as torchvision 0.14's ssd300_vgg16 builds it:
/// `backbone` (SSDFeatureExtractorVGG: VGG-16 `features` up to conv4_3 with
/// an L2-normalised, learnt-scale output, then `extra` blocks: pool5 + the
/// dilated fc6/fc7 convolutions and four down-sampling blocks) and `head`
/// (`classification_head.module_list.<i>`, `regression_head.module_list.<i>`,
/// one 3x3 convolution per feature map), with DefaultBoxGenerator anchors,
/// a fixed 300 x 300 input and per-class top-k before batched NMS; and
/// SSDlite (Sandler et al., 2018, section 6.2) as ssdlite320_mobilenet_v3_large
/// builds it on a MobileNet v3 Large extractor.

#include <cstdint>
#include <utility>
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

/// torchvision's SSDlite: `backbone` (SSDLiteFeatureExtractorMobileNet:
/// `features.0` = mobilenet_v3_large features 0..12 plus the expansion layer
/// of block 13 (torchvision's c4_pos), `features.1` = the rest of block 13
/// (children "1".."3") and features 14..16, then four `extra` blocks of
/// 1x1 / depthwise 3x3 stride 2 / 1x1 Conv2dNormActivation with ReLU6) and
/// `head` (`classification_head.module_list.<i>`,
/// `regression_head.module_list.<i>`: a depthwise 3x3 Conv2dNormActivation
/// with ReLU6, then a 1x1 convolution), BatchNorm2d(eps=0.001,
/// momentum=0.03) throughout, DefaultBoxGenerator([[2, 3]] * 6, min_ratio
/// 0.2, max_ratio 0.95) and a fixed 320 x 320 input normalised to [-1, 1].
class SSDLiteImpl : public DetectorImpl {
 public:
  /// ssdlite320_mobilenet_v3_large's layout for `num_classes` (including
  /// background); `reduced_tail` halves the last backbone stage (the
  /// published weights have it).
  SSDLiteImpl(int64_t num_classes, SSDOptions options, bool reduced_tail, const models::InitPolicy& policy);
  std::vector<Detection> detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) override;
  void set_score_thresh(double thresh) override { options_.score_thresh = thresh; }

  /// "backbone" with children features and extra.
  std::shared_ptr<torch::nn::Module> backbone;
  std::vector<models::Sequential> features;  ///< the two backbone stages (outputs "0", "1")
  std::vector<models::Sequential> extra;     ///< the extra blocks (outputs "2".."5")
  /// "head": the per-level prediction blocks.
  std::shared_ptr<torch::nn::Module> head;
  std::vector<models::Sequential> cls_logits, bbox_reg;

 private:
  int64_t num_classes_;
  SSDOptions options_;
  GeneralizedRCNNTransform transform_;
  ops::DefaultBoxGenerator anchors_;
};
/// Handle of SSDLiteImpl.
TORCH_MODULE(SSDLite);

/// SSD's postprocess_detections: softmax over the classes of `cls_logits`
/// (N x A x C), boxes decoded from `regression` (N x A x 4) against
/// `anchors` (weights 10, 10, 5, 5) and clipped to `image_sizes`, then per
/// class the scores above score_thresh and their top-k, batched NMS and the
/// first detections_per_img.
std::vector<Detection> ssd_postprocess(const at::Tensor& cls_logits, const at::Tensor& regression,
                                       const std::vector<at::Tensor>& anchors,
                                       const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                       const SSDOptions& options);

/// ssd300_vgg16. Builder arguments: score_thresh, nms_thresh,
/// detections_per_img, topk_candidates, trainable_backbone_layers.
Detector ssd300_vgg16(const DetectorArgs& args);

/// ssdlite320_mobilenet_v3_large (score_thresh 0.001, nms_thresh 0.55,
/// detections_per_img 300, topk_candidates 300). Builder arguments:
/// score_thresh, nms_thresh, detections_per_img, topk_candidates,
/// trainable_backbone_layers (accepted, no effect in eval), reduced_tail
/// (default true: the layout of the published weights, which torchvision
/// builds when no ImageNet backbone weights are given).
Detector ssdlite320_mobilenet_v3_large(const DetectorArgs& args);

}  // namespace modelzoo::detection
