#pragma once
/// \file
/// Semantic segmentation models as torchvision 0.14 builds them
/// (torchvision.models.segmentation): FCN (Long et al., 2015), DeepLabV3
/// (Chen et al., 2017) and LR-ASPP (Howard et al., 2019).
///
/// Every model is backbone -> head(s) -> bilinear upsampling
/// (align_corners=False) of the logits to the input's height and width:
/// - `backbone`: torchvision's IntermediateLayerGetter over a dilated ResNet
///   (layer3 and layer4 with dilation instead of stride; children `conv1`,
///   `bn1`, `relu`, `maxpool`, `layer1`..`layer4`, no `avgpool`/`fc`) or over
///   a dilated MobileNetV3-Large's `features` (children `0`..`16`);
/// - `classifier`: FCNHead, DeepLabHead (ASPP with rates 12, 24, 36) or
///   LRASPPHead;
/// - `aux_classifier` (FCN and DeepLabV3 with aux_loss): an FCNHead on the
///   layer3 (ResNet) or stage-4 (MobileNetV3) features.
/// Parameter names and their order are those of torchvision's state_dict(),
/// so the published COCO_WITH_VOC_LABELS_V1 files load as they are.
///
/// Builders take modelzoo::models::ArchArgs: num_classes (21 for the
/// published weights) and extra {"aux_loss": bool} (FCN, DeepLabV3; default
/// false, as torchvision when no weights are given). LR-ASPP refuses
/// aux_loss = true, as torchvision does.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::segmentation {

/// What a segmentation model returns (torchvision's OrderedDict result):
/// N x num_classes x H x W logits at the input's size.
struct SegmentationOutput {
  at::Tensor out;  ///< the main head's logits
  at::Tensor aux;  ///< the auxiliary head's logits; undefined without aux_classifier
};

/// Base of every segmentation model, so get_segmenter() can hand back any of them.
class SegmenterImpl : public torch::nn::Module {
 public:
  /// `name` is what printing the module shows (Python's class name).
  explicit SegmenterImpl(std::string name) : torch::nn::Module(std::move(name)) {}
  /// Logits for a batch of preprocessed images (N x 3 x H x W, H and W >= 1).
  virtual SegmentationOutput forward(const at::Tensor& x) = 0;
};

/// A shared handle to any segmentation model (`model->forward(x).out`).
class Segmenter : public torch::nn::ModuleHolder<SegmenterImpl> {
 public:
  /// Wraps an existing module.
  Segmenter(std::shared_ptr<SegmenterImpl> impl)  // NOLINT(google-explicit-constructor)
      : ModuleHolder(std::move(impl)) {}
  /// An empty handle.
  Segmenter(std::nullptr_t) : ModuleHolder(nullptr) {}  // NOLINT
};

/// torchvision's IntermediateLayerGetter: runs named children in order and
/// returns the outputs of those listed in `return_layers` under their new
/// names. Children after the last returned one are not kept.
class IntermediateLayerGetterImpl : public torch::nn::Module {
 public:
  /// `layers` in order, with their attribute names; `return_layers` maps a
  /// child name to its output name. modelzoo::Error when a returned name is
  /// not among the layers.
  IntermediateLayerGetterImpl(const std::vector<std::pair<std::string, models::LayerPtr>>& layers,
                              std::map<std::string, std::string> return_layers);
  /// Output name -> feature map.
  std::map<std::string, at::Tensor> forward(const at::Tensor& x);

 private:
  std::vector<std::pair<std::string, models::LayerPtr>> layers_;
  std::map<std::string, std::string> return_layers_;
};
/// Handle of IntermediateLayerGetterImpl.
TORCH_MODULE(IntermediateLayerGetter);

/// torchvision's FCNHead: Sequential(Conv2d 3x3 (in -> in / 4, no bias),
/// BatchNorm2d, ReLU, Dropout(0.1), Conv2d 1x1 (-> channels)).
models::Sequential fcn_head(int64_t in_channels, int64_t channels, const models::InitPolicy& init);

/// torchvision's ASPP: `convs` (1x1 branch, three dilated 3x3 branches,
/// image pooling branch), concatenated, then `project` (1x1 conv, BN, ReLU,
/// Dropout(0.5)).
class ASPPImpl : public models::LayerImpl {
 public:
  /// `rates`: dilations of the 3x3 branches; out_channels of every branch.
  ASPPImpl(int64_t in_channels, const std::vector<int64_t>& rates, int64_t out_channels,
           const models::InitPolicy& init);
  /// Branches, concatenation, projection.
  at::Tensor forward(const at::Tensor& x) override;

  /// Child `convs` (a ModuleList in Python: its children are only iterated,
  /// never run as a chain).
  models::Sequential convs{nullptr};
  models::Sequential project{nullptr};    ///< after concatenation
};
/// Handle of ASPPImpl.
TORCH_MODULE(ASPP);

/// torchvision's DeepLabHead: Sequential(ASPP(in, [12, 24, 36]), Conv2d 3x3
/// (256 -> 256, no bias), BatchNorm2d, ReLU, Conv2d 1x1 (-> num_classes)).
models::Sequential deeplab_head(int64_t in_channels, int64_t num_classes,
                                const models::InitPolicy& init);

/// torchvision's _SimpleSegmentationModel (FCN and DeepLabV3): backbone
/// returning "out" (and "aux"), classifier, optional aux_classifier.
class SimpleSegmentationModelImpl : public SegmenterImpl {
 public:
  /// `name` is "FCN" or "DeepLabV3"; `aux_classifier` may be empty.
  SimpleSegmentationModelImpl(std::string name, IntermediateLayerGetter backbone,
                              models::Sequential classifier, models::Sequential aux_classifier);
  /// Heads on the backbone's features, upsampled to the input size.
  SegmentationOutput forward(const at::Tensor& x) override;

  IntermediateLayerGetter backbone{nullptr};  ///< the feature extractor
  models::Sequential classifier{nullptr};     ///< the main head
  models::Sequential aux_classifier{nullptr};  ///< the auxiliary head, or empty
};
/// Handle of SimpleSegmentationModelImpl.
TORCH_MODULE(SimpleSegmentationModel);

/// torchvision's LRASPPHead: `cbr` (1x1 conv, BN, ReLU) and `scale` (global
/// pool, 1x1 conv, Sigmoid) on the high-level features, multiplied,
/// upsampled to the low-level features, then low_classifier(low) +
/// high_classifier(x).
class LRASPPHeadImpl : public torch::nn::Module {
 public:
  /// Channels of the "low" and "high" features, classes, inner width (128).
  LRASPPHeadImpl(int64_t low_channels, int64_t high_channels, int64_t num_classes,
                 int64_t inter_channels, const models::InitPolicy& init);
  /// Logits at the low-level features' resolution.
  at::Tensor forward(const at::Tensor& low, const at::Tensor& high);

  models::Sequential cbr{nullptr};       ///< on the high features
  models::Sequential scale{nullptr};     ///< attention on the high features
  models::Conv2d low_classifier{nullptr};   ///< 1x1 on the low features
  models::Conv2d high_classifier{nullptr};  ///< 1x1 on the attended high features
};
/// Handle of LRASPPHeadImpl.
TORCH_MODULE(LRASPPHead);

/// torchvision's LRASPP: backbone returning "low" and "high", `classifier`
/// an LRASPPHead; no auxiliary output.
class LRASPPImpl : public SegmenterImpl {
 public:
  /// Builds the model from its parts.
  LRASPPImpl(IntermediateLayerGetter backbone, LRASPPHead classifier);
  /// Head on the backbone's features, upsampled to the input size.
  SegmentationOutput forward(const at::Tensor& x) override;

  IntermediateLayerGetter backbone{nullptr};  ///< the feature extractor
  LRASPPHead classifier{nullptr};             ///< the head
};
/// Handle of LRASPPImpl.
TORCH_MODULE(LRASPP);

/// FCN on a dilated ResNet-50.
Segmenter fcn_resnet50(const models::ArchArgs& args = {});
/// FCN on a dilated ResNet-101.
Segmenter fcn_resnet101(const models::ArchArgs& args = {});
/// DeepLabV3 on a dilated ResNet-50.
Segmenter deeplabv3_resnet50(const models::ArchArgs& args = {});
/// DeepLabV3 on a dilated ResNet-101.
Segmenter deeplabv3_resnet101(const models::ArchArgs& args = {});
/// DeepLabV3 on a dilated MobileNetV3-Large.
Segmenter deeplabv3_mobilenet_v3_large(const models::ArchArgs& args = {});
/// LR-ASPP on a dilated MobileNetV3-Large.
Segmenter lraspp_mobilenet_v3_large(const models::ArchArgs& args = {});

/// One segmentation architecture.
struct SegmentationArch {
  std::string name;  ///< torchvision's builder name
  std::function<Segmenter(const models::ArchArgs&)> build;  ///< the builder
  /// ArchArgs::extra applied when building for pretrained weights (aux_loss
  /// true, as torchvision forces it when weights are given).
  nlohmann::json pretrained_extra = nlohmann::json::object();
};

/// Every segmentation architecture, sorted by name.
const std::vector<SegmentationArch>& segmentation_architectures();
/// The architecture or nullptr.
const SegmentationArch* find_segmentation_architecture(const std::string& name);
/// Builds `name`; modelzoo::Error listing the known names when unknown.
Segmenter build_segmenter(const std::string& name, const models::ArchArgs& args = {});

}  // namespace modelzoo::segmentation
