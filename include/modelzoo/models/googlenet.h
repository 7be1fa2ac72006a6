#pragma once
/// \file
/// GoogLeNet / Inception v1 (Szegedy et al., 2014) as torchvision 0.14 builds
/// it: a stem of BasicConv2d layers and ceil-mode max pools, nine Inception
/// blocks (3a..5b), optional auxiliary heads `aux1` (after 4a) and `aux2`
/// (after 4d), then adaptive average pooling, dropout and `fc`.
///
/// Pretrained weight files hold the auxiliary heads. torchvision builds with
/// aux_logits=True to load them and then drops them unless the caller asked
/// for them; here the catalog lists `aux1.*` / `aux2.*` as ignorable keys, so
/// a model built with aux_logits=false simply skips them. With
/// transform_input (what the pretrained weights expect), forward first maps
/// ImageNet-normalised input to the [-1, 1] scaling the ported weights were
/// trained with. In eval mode forward returns the logits only; in training
/// mode forward_with_aux() also returns the auxiliary logits.

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/basic_conv2d.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of GoogLeNet.
struct GoogLeNetOptions {
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Build the auxiliary classifiers `aux1` and `aux2`.
  TORCH_ARG(bool, aux_logits) = true;
  /// Rescale ImageNet-normalised input as the ported weights expect.
  TORCH_ARG(bool, transform_input) = false;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (trunc_normal_(std=0.01, a=-2, b=2) convolution and Linear weights).
  TORCH_ARG(bool, init_weights) = true;
  /// Dropout before `fc`.
  TORCH_ARG(double, dropout) = 0.2;
  /// Dropout inside the auxiliary heads.
  TORCH_ARG(double, dropout_aux) = 0.7;
};

/// GoogLeNet's Inception block: `branch1` (1x1), `branch2` (1x1, 3x3),
/// `branch3` (1x1, 3x3), `branch4` (3x3 max pool, 1x1), concatenated.
class GoogLeNetInceptionImpl : public LayerImpl {
 public:
  /// Channel counts as torchvision's Inception(in_channels, ch1x1, ch3x3red,
  /// ch3x3, ch5x5red, ch5x5, pool_proj).
  GoogLeNetInceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3,
                         int64_t ch5x5red, int64_t ch5x5, int64_t pool_proj, const InitPolicy& init);
  /// cat([branch1..4](x), dim 1).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch1{nullptr};  ///< 1x1
  Sequential branch2{nullptr};   ///< 1x1 reduction, 3x3
  Sequential branch3{nullptr};   ///< 1x1 reduction, 3x3 (torchvision's "5x5" branch)
  Sequential branch4{nullptr};   ///< max pool, 1x1 projection
};
/// Handle of GoogLeNetInceptionImpl.
TORCH_MODULE(GoogLeNetInception);

/// GoogLeNet's auxiliary classifier: adaptive pool to 4x4, `conv` (1x1 ->
/// 128), flatten, `fc1` (2048 -> 1024) + ReLU, `dropout`, `fc2`.
class GoogLeNetInceptionAuxImpl : public LayerImpl {
 public:
  /// `dropout` in [0, 1].
  GoogLeNetInceptionAuxImpl(int64_t in_channels, int64_t num_classes, double dropout,
                            const InitPolicy& init);
  /// Auxiliary logits.
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d conv{nullptr};  ///< 1x1 -> 128 channels
  Linear fc1{nullptr};        ///< 2048 -> 1024
  Linear fc2{nullptr};        ///< 1024 -> num_classes
  Dropout dropout{nullptr};   ///< before fc2
};
/// Handle of GoogLeNetInceptionAuxImpl.
TORCH_MODULE(GoogLeNetInceptionAux);

/// What forward_with_aux() returns (torchvision's GoogLeNetOutputs).
struct GoogLeNetOutputs {
  at::Tensor logits;       ///< main classifier
  at::Tensor aux_logits2;  ///< aux2's logits; undefined unless training with aux_logits
  at::Tensor aux_logits1;  ///< aux1's logits; undefined unless training with aux_logits
};

/// GoogLeNet; children named and ordered as torchvision's attributes.
class GoogLeNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for num_classes < 1 or a dropout
  /// outside [0, 1].
  explicit GoogLeNetImpl(const GoogLeNetOptions& options = {});
  /// Logits (N x num_classes), in training mode too (the auxiliary heads are
  /// not run); N x 3 x H x W input with H, W >= 15.
  at::Tensor forward(at::Tensor x) override;
  /// Logits plus, in training mode with aux_logits, the auxiliary logits.
  GoogLeNetOutputs forward_with_aux(at::Tensor x);
  /// The options it was built with.
  const GoogLeNetOptions& options() const { return options_; }

  BasicConv2d conv1{nullptr};            ///< 7x7 / 2
  MaxPool2d maxpool1{nullptr};           ///< 3 / 2, ceil
  BasicConv2d conv2{nullptr};            ///< 1x1
  BasicConv2d conv3{nullptr};            ///< 3x3
  MaxPool2d maxpool2{nullptr};           ///< 3 / 2, ceil
  GoogLeNetInception inception3a{nullptr};  ///< -> 256
  GoogLeNetInception inception3b{nullptr};  ///< -> 480
  MaxPool2d maxpool3{nullptr};              ///< 3 / 2, ceil
  GoogLeNetInception inception4a{nullptr};  ///< -> 512
  GoogLeNetInception inception4b{nullptr};  ///< -> 512
  GoogLeNetInception inception4c{nullptr};  ///< -> 512
  GoogLeNetInception inception4d{nullptr};  ///< -> 528
  GoogLeNetInception inception4e{nullptr};  ///< -> 832
  MaxPool2d maxpool4{nullptr};              ///< 2 / 2, ceil
  GoogLeNetInception inception5a{nullptr};  ///< -> 832
  GoogLeNetInception inception5b{nullptr};  ///< -> 1024
  GoogLeNetInceptionAux aux1{nullptr};      ///< after 4a; empty without aux_logits
  GoogLeNetInceptionAux aux2{nullptr};      ///< after 4d; empty without aux_logits
  AdaptiveAvgPool2d avgpool{nullptr};       ///< to 1 x 1
  Dropout dropout{nullptr};                 ///< before fc
  Linear fc{nullptr};                       ///< 1024 -> num_classes

 private:
  at::Tensor transform_input(const at::Tensor& x) const;
  GoogLeNetOutputs run(at::Tensor x, bool with_aux);
  GoogLeNetOptions options_;
};
/// Handle of GoogLeNetImpl.
TORCH_MODULE(GoogLeNet);

/// Scales ImageNet-normalised channels to the [-1, 1] normalisation
/// (torchvision's _transform_input, shared by GoogLeNet and Inception v3):
/// channel c becomes x_c * std_c / 0.5 + (mean_c - 0.5) / 0.5.
at::Tensor inception_transform_input(const at::Tensor& x);

/// GoogLeNet, random init unless args.init_weights is false. `args.extra`
/// may hold {"aux_logits": b (default true), "transform_input": b (default
/// false), "init_weights": b, "dropout": p, "dropout_aux": p}; "image_size"
/// is accepted and ignored. For pretrained weights the catalog's
/// pretrained_extra sets transform_input=true and aux_logits=false (a
/// registry entry's "arch_options" take precedence over it).
GoogLeNet googlenet(const ArchArgs& args = {});

}  // namespace modelzoo::models
