#pragma once
/// \file
/// The feature extractors of torchvision's detection models, with its
/// state_dict names: a ResNet body (IntermediateLayerGetter over
/// conv1..layer4, no avgpool/fc) and a MobileNet v3 body (the `features`
/// layers, indexed "0".."16"), both with a pluggable norm layer
/// (FrozenBatchNorm2d for the v1 weights, BatchNorm2d for the v2 ones), and
/// BackboneWithFPN joining a body to a FeaturePyramidNetwork. Plus two
/// layers the heads need: ConvTranspose2d and GroupNorm.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/ops/layers.h"
#include "modelzoo/ops/roi_align.h"

namespace modelzoo::detection {

/// A body: image batch -> named feature maps.
class BodyImpl : public torch::nn::Module {
 public:
  /// The returned feature maps in order.
  virtual ops::FeatureMaps forward(const at::Tensor& x) = 0;
  /// Channels of each returned map.
  virtual std::vector<int64_t> out_channels() const = 0;
};

/// Options of ResNetBody.
struct ResNetBodyOptions {
  /// Bottleneck blocks per stage (ResNet-50: 3, 4, 6, 3).
  TORCH_ARG(std::vector<int64_t>, layers) = std::vector<int64_t>{3, 4, 6, 3};
  /// The norm layer after every convolution.
  TORCH_ARG(models::NormFactory, norm) = ops::frozen_batch_norm2d_factory();
  /// Stages returned, 1..4 (their outputs are named "0", "1", ... in order).
  TORCH_ARG(std::vector<int64_t>, returned_layers) = std::vector<int64_t>{1, 2, 3, 4};
};

/// torchvision's resnet50 trunk as IntermediateLayerGetter keeps it:
/// children conv1, bn1, relu, maxpool, layer1..layer4 (Bottleneck blocks,
/// children conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample).
class ResNetBodyImpl : public BodyImpl {
 public:
  /// kaiming_normal_(fan_out) convolutions when `policy.enabled`.
  ResNetBodyImpl(const ResNetBodyOptions& options, const models::InitPolicy& policy);
  ops::FeatureMaps forward(const at::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;

 private:
  ResNetBodyOptions options_;
  std::vector<std::shared_ptr<models::LayerImpl>> stem_;
  std::vector<models::Sequential> stages_;
};
/// Handle of ResNetBodyImpl.
TORCH_MODULE(ResNetBody);

/// torchvision's mobilenet_v3_large(norm_layer=...).features as the detection
/// extractor keeps it: children "0".."16"; returns the outputs of the
/// layers at `returned` (indices into features) named "0", "1", ...
class MobileNetV3BodyImpl : public BodyImpl {
 public:
  /// `returned`: feature indices (FPN: the last two stages, {13, 16}).
  MobileNetV3BodyImpl(models::NormFactory norm, std::vector<int64_t> returned, const models::InitPolicy& policy);
  ops::FeatureMaps forward(const at::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;
  /// Applies layers [begin, end) of `features` to x.
  at::Tensor run(const at::Tensor& x, std::size_t begin, std::size_t end);
  /// Output channels of layer i.
  int64_t channels_of(std::size_t i) const { return channels_.at(i); }
  /// Number of layers.
  std::size_t size() const { return layers_.size(); }

 private:
  std::vector<models::LayerPtr> layers_;
  std::vector<int64_t> channels_;
  std::vector<int64_t> returned_;
};
/// Handle of MobileNetV3BodyImpl.
TORCH_MODULE(MobileNetV3Body);

/// torchvision's mobilenet_v3_large(norm_layer=norm, reduced_tail=...).features
/// with `init` as given: the stem, the 15 InvertedResidual blocks (children
/// `block`) and the last 1x1 convolution, each with its output channels.
std::vector<std::pair<models::LayerPtr, int64_t>> mobilenet_v3_large_features(const models::NormFactory& norm,
                                                                              bool reduced_tail,
                                                                              const models::InitPolicy& init);

/// torchvision's BackboneWithFPN: children `body` and `fpn`.
class BackboneWithFPNImpl : public torch::nn::Module {
 public:
  /// Joins `body` to an FPN over its returned maps.
  BackboneWithFPNImpl(std::shared_ptr<BodyImpl> body, ops::FeaturePyramidNetworkOptions fpn,
                      const models::InitPolicy& policy);
  /// fpn(body(x)).
  ops::FeatureMaps forward(const at::Tensor& x);
  /// FPN channels (256).
  int64_t out_channels() const { return fpn->options().out_channels(); }

  std::shared_ptr<BodyImpl> body;      ///< "body"
  ops::FeaturePyramidNetwork fpn{nullptr};  ///< "fpn"
};
/// Handle of BackboneWithFPNImpl.
TORCH_MODULE(BackboneWithFPN);

/// nn.ConvTranspose2d (groups 1, output_padding 0): `weight` [in, out, kh, kw], `bias` [out].
class ConvTranspose2dImpl : public models::LayerImpl {
 public:
  /// Square kernel, stride and padding.
  ConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                      const models::InitPolicy& policy);
  at::Tensor forward(const at::Tensor& x) override;

  at::Tensor weight;  ///< [in, out, k, k]
  at::Tensor bias;    ///< [out]

 private:
  int64_t stride_, padding_;
};
/// Handle of ConvTranspose2dImpl.
TORCH_MODULE(ConvTranspose2d);

/// nn.GroupNorm(num_groups, channels) with affine `weight` (ones) and `bias` (zeros).
class GroupNormImpl : public models::LayerImpl {
 public:
  /// modelzoo::Error when channels is not divisible by num_groups.
  GroupNormImpl(int64_t num_groups, int64_t channels, double eps = 1e-5);
  at::Tensor forward(const at::Tensor& x) override;

  at::Tensor weight;  ///< [C]
  at::Tensor bias;    ///< [C]

 private:
  int64_t groups_;
  double eps_;
};
/// Handle of GroupNormImpl.
TORCH_MODULE(GroupNorm);

/// A NormFactory making GroupNorm(num_groups, channels) (`partial(nn.GroupNorm, 32)`).
models::NormFactory group_norm_factory(int64_t num_groups);

}  // namespace modelzoo::detection
