#pragma once
/// \file
/// The volumetric layers (the video models use them), with torchvision's
/// parameter names and modelzoo's InitPolicy (see models/layers.h): nn.Conv3d,
/// nn.BatchNorm3d, nn.MaxPool3d, nn.AvgPool3d and nn.AdaptiveAvgPool3d on
/// N x C x T x H x W tensors. InitPolicy::conv_weight / conv_bias apply to
/// Conv3d as to Conv2d (TorchDefault: kaiming_uniform_(a=sqrt(5)) and
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in))).

#include <array>
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of Conv3d (zero padding mode only).
struct Conv3dOptions {
  /// Required: channels in/out and kernel size (t, h, w).
  Conv3dOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<3> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<3>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<3>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<3>, padding) = 0;
  /// Channel groups (in_channels for MViT's depthwise pooling).
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = true;
};

/// nn.Conv3d: `weight` [out, in / groups, kt, kh, kw] and `bias` [out] (if any).
class Conv3dImpl : public LayerImpl {
 public:
  /// modelzoo::Error for non-positive sizes, negative padding or channels
  /// not divisible by groups.
  Conv3dImpl(const Conv3dOptions& options, const InitPolicy& policy);
  /// at::conv3d (or the installed inference kernel); checks the input's
  /// rank and channels.
  at::Tensor forward(const at::Tensor& x) override;
  /// The options it was built with.
  const Conv3dOptions& options() const { return options_; }

  at::Tensor weight;  ///< [out, in / groups, kt, kh, kw]
  at::Tensor bias;    ///< [out], undefined without bias

 private:
  Conv3dOptions options_;
};
/// Handle of Conv3dImpl.
TORCH_MODULE(Conv3d);

/// nn.BatchNorm3d: `weight`, `bias`, buffers `running_mean`, `running_var`,
/// `num_batches_tracked`, as BatchNorm2d (models/layers.h).
class BatchNorm3dImpl : public LayerImpl {
 public:
  /// `eps` and `momentum` as torch.nn (S3D: 0.001, 0.001).
  BatchNorm3dImpl(int64_t num_features, const InitPolicy& policy, double eps = 1e-5,
                  double momentum = 0.1);
  /// at::batch_norm; batch statistics in training mode, running ones in eval
  /// (or the installed inference kernel).
  at::Tensor forward(const at::Tensor& x) override;
  /// Number of channels.
  int64_t num_features() const { return num_features_; }
  /// eps.
  double eps() const { return eps_; }

  at::Tensor weight;               ///< [C]
  at::Tensor bias;                 ///< [C]
  at::Tensor running_mean;         ///< [C]
  at::Tensor running_var;          ///< [C]
  at::Tensor num_batches_tracked;  ///< int64 scalar

 private:
  int64_t num_features_;
  double eps_, momentum_;
};
/// Handle of BatchNorm3dImpl.
TORCH_MODULE(BatchNorm3d);

/// Kernel, stride and padding of a 3-D pooling layer.
struct Pool3dOptions {
  /// Required: the kernel (stride defaults to it, as in Python).
  /* implicit */ Pool3dOptions(torch::ExpandingArray<3> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}
  TORCH_ARG(torch::ExpandingArray<3>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<3>, stride);
  TORCH_ARG(torch::ExpandingArray<3>, padding) = 0;
};

/// nn.MaxPool3d.
class MaxPool3dImpl : public LayerImpl {
 public:
  /// Stores the options.
  explicit MaxPool3dImpl(const Pool3dOptions& options) : LayerImpl("MaxPool3d"), options_(options) {}
  /// at::max_pool3d.
  at::Tensor forward(const at::Tensor& x) override;

 private:
  Pool3dOptions options_;
};
/// Handle of MaxPool3dImpl.
TORCH_MODULE(MaxPool3d);

/// nn.AvgPool3d (count_include_pad, no ceil mode).
class AvgPool3dImpl : public LayerImpl {
 public:
  /// Stores the options.
  explicit AvgPool3dImpl(const Pool3dOptions& options) : LayerImpl("AvgPool3d"), options_(options) {}
  /// at::avg_pool3d; modelzoo::Error when the input is smaller than the kernel.
  at::Tensor forward(const at::Tensor& x) override;

 private:
  Pool3dOptions options_;
};
/// Handle of AvgPool3dImpl.
TORCH_MODULE(AvgPool3d);

/// nn.AdaptiveAvgPool3d((1, 1, 1)).
class GlobalAvgPool3dImpl : public LayerImpl {
 public:
  /// Pools every channel to 1 x 1 x 1.
  GlobalAvgPool3dImpl() : LayerImpl("AdaptiveAvgPool3d") {}
  /// at::adaptive_avg_pool3d(x, {1, 1, 1}).
  at::Tensor forward(const at::Tensor& x) override;
};
/// Handle of GlobalAvgPool3dImpl.
TORCH_MODULE(GlobalAvgPool3d);

}  // namespace modelzoo::models
