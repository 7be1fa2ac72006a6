#pragma once
/// \file
/// Inception v3 (Szegedy et al., 2015) as torchvision 0.14 builds it
/// (`Inception3`): a stem of BasicConv2d layers (Conv2d_1a_3x3 ..
/// Conv2d_4a_3x3) and max pools, the mixed blocks Mixed_5b..Mixed_7c
/// (InceptionA..E), an optional auxiliary head `AuxLogits` after Mixed_6e,
/// then adaptive average pooling, dropout and `fc`. BatchNorm eps is 0.001.
///
/// The pretrained file holds `AuxLogits.*`. torchvision's inception_v3
/// builder keeps the head unless aux_logits=False is asked for; a model
/// built with aux_logits=false skips those keys (the catalog lists them as
/// ignorable). transform_input, as for GoogLeNet, maps ImageNet-normalised
/// input to the [-1, 1] scaling the ported weights expect. In eval mode
/// forward returns the logits only; forward_with_aux() also returns the
/// auxiliary logits in training mode. Input: N x 3 x H x W with H, W >= 75
/// (299 x 299 for the published accuracy).

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/basic_conv2d.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of Inception3.
struct Inception3Options {
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Build the auxiliary classifier `AuxLogits`.
  TORCH_ARG(bool, aux_logits) = true;
  /// Rescale ImageNet-normalised input as the ported weights expect.
  TORCH_ARG(bool, transform_input) = false;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (trunc_normal_(std=0.1, a=-2, b=2) weights, std 0.001 for AuxLogits.fc).
  TORCH_ARG(bool, init_weights) = true;
  /// Dropout before `fc`.
  TORCH_ARG(double, dropout) = 0.5;
};

/// Mixed_5b/5c/5d: 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; avg pool -> 1x1.
class InceptionAImpl : public LayerImpl {
 public:
  /// `pool_features`: output channels of the pooling branch.
  InceptionAImpl(int64_t in_channels, int64_t pool_features, const InitPolicy& init);
  /// Concatenation of the four branches (224 + pool_features channels).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch1x1{nullptr};       ///< 1x1 -> 64
  BasicConv2d branch5x5_1{nullptr};     ///< 1x1 -> 48
  BasicConv2d branch5x5_2{nullptr};     ///< 5x5 -> 64
  BasicConv2d branch3x3dbl_1{nullptr};  ///< 1x1 -> 64
  BasicConv2d branch3x3dbl_2{nullptr};  ///< 3x3 -> 96
  BasicConv2d branch3x3dbl_3{nullptr};  ///< 3x3 -> 96
  BasicConv2d branch_pool{nullptr};     ///< 1x1 after average pooling
};
/// Handle of InceptionAImpl.
TORCH_MODULE(InceptionA);

/// Mixed_6a (grid reduction): 3x3/2; 1x1 -> 3x3 -> 3x3/2; max pool /2.
class InceptionBImpl : public LayerImpl {
 public:
  /// Builds the branches.
  InceptionBImpl(int64_t in_channels, const InitPolicy& init);
  /// Concatenation of the three branches (480 + in_channels channels).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch3x3{nullptr};       ///< 3x3 / 2 -> 384
  BasicConv2d branch3x3dbl_1{nullptr};  ///< 1x1 -> 64
  BasicConv2d branch3x3dbl_2{nullptr};  ///< 3x3 -> 96
  BasicConv2d branch3x3dbl_3{nullptr};  ///< 3x3 / 2 -> 96
};
/// Handle of InceptionBImpl.
TORCH_MODULE(InceptionB);

/// Mixed_6b..6e: factorised 7x7 convolutions (1x7 and 7x1).
class InceptionCImpl : public LayerImpl {
 public:
  /// `channels_7x7`: width inside the 7x7 branches.
  InceptionCImpl(int64_t in_channels, int64_t channels_7x7, const InitPolicy& init);
  /// Concatenation of the four branches (768 channels).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch1x1{nullptr};       ///< 1x1 -> 192
  BasicConv2d branch7x7_1{nullptr};     ///< 1x1 -> c7
  BasicConv2d branch7x7_2{nullptr};     ///< 1x7 -> c7
  BasicConv2d branch7x7_3{nullptr};     ///< 7x1 -> 192
  BasicConv2d branch7x7dbl_1{nullptr};  ///< 1x1 -> c7
  BasicConv2d branch7x7dbl_2{nullptr};  ///< 7x1 -> c7
  BasicConv2d branch7x7dbl_3{nullptr};  ///< 1x7 -> c7
  BasicConv2d branch7x7dbl_4{nullptr};  ///< 7x1 -> c7
  BasicConv2d branch7x7dbl_5{nullptr};  ///< 1x7 -> 192
  BasicConv2d branch_pool{nullptr};     ///< 1x1 after average pooling -> 192
};
/// Handle of InceptionCImpl.
TORCH_MODULE(InceptionC);

/// Mixed_7a (grid reduction): 1x1 -> 3x3/2; 1x1 -> 1x7 -> 7x1 -> 3x3/2; max pool /2.
class InceptionDImpl : public LayerImpl {
 public:
  /// Builds the branches.
  InceptionDImpl(int64_t in_channels, const InitPolicy& init);
  /// Concatenation of the three branches (512 + in_channels channels).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch3x3_1{nullptr};    ///< 1x1 -> 192
  BasicConv2d branch3x3_2{nullptr};    ///< 3x3 / 2 -> 320
  BasicConv2d branch7x7x3_1{nullptr};  ///< 1x1 -> 192
  BasicConv2d branch7x7x3_2{nullptr};  ///< 1x7 -> 192
  BasicConv2d branch7x7x3_3{nullptr};  ///< 7x1 -> 192
  BasicConv2d branch7x7x3_4{nullptr};  ///< 3x3 / 2 -> 192
};
/// Handle of InceptionDImpl.
TORCH_MODULE(InceptionD);

/// Mixed_7b/7c: expanded filter bank with split 1x3 / 3x1 outputs.
class InceptionEImpl : public LayerImpl {
 public:
  /// Builds the branches.
  InceptionEImpl(int64_t in_channels, const InitPolicy& init);
  /// Concatenation of the branches (2048 channels).
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d branch1x1{nullptr};         ///< 1x1 -> 320
  BasicConv2d branch3x3_1{nullptr};       ///< 1x1 -> 384
  BasicConv2d branch3x3_2a{nullptr};      ///< 1x3 -> 384
  BasicConv2d branch3x3_2b{nullptr};      ///< 3x1 -> 384
  BasicConv2d branch3x3dbl_1{nullptr};    ///< 1x1 -> 448
  BasicConv2d branch3x3dbl_2{nullptr};    ///< 3x3 -> 384
  BasicConv2d branch3x3dbl_3a{nullptr};   ///< 1x3 -> 384
  BasicConv2d branch3x3dbl_3b{nullptr};   ///< 3x1 -> 384
  BasicConv2d branch_pool{nullptr};       ///< 1x1 after average pooling -> 192
};
/// Handle of InceptionEImpl.
TORCH_MODULE(InceptionE);

/// Inception v3's auxiliary classifier: avg pool 5/3, `conv0` (1x1 -> 128),
/// `conv1` (5x5 -> 768), adaptive pool to 1x1, flatten, `fc`.
class InceptionAuxImpl : public LayerImpl {
 public:
  /// Builds the head; `fc` is drawn with std 0.001 when init is enabled.
  InceptionAuxImpl(int64_t in_channels, int64_t num_classes, const InitPolicy& init);
  /// Auxiliary logits.
  at::Tensor forward(const at::Tensor& x) override;

  BasicConv2d conv0{nullptr};  ///< 1x1 -> 128
  BasicConv2d conv1{nullptr};  ///< 5x5 -> 768
  Linear fc{nullptr};          ///< 768 -> num_classes
};
/// Handle of InceptionAuxImpl.
TORCH_MODULE(InceptionAux);

/// What forward_with_aux() returns (torchvision's InceptionOutputs).
struct InceptionOutputs {
  at::Tensor logits;      ///< main classifier
  at::Tensor aux_logits;  ///< AuxLogits' output; undefined unless training with aux_logits
};

/// Inception v3; children named and ordered as torchvision's attributes.
class Inception3Impl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for num_classes < 1 or a dropout
  /// outside [0, 1].
  explicit Inception3Impl(const Inception3Options& options = {});
  /// Logits (N x num_classes), in training mode too (the auxiliary head is not run).
  at::Tensor forward(at::Tensor x) override;
  /// Logits plus, in training mode with aux_logits, the auxiliary logits.
  InceptionOutputs forward_with_aux(at::Tensor x);
  /// The options it was built with.
  const Inception3Options& options() const { return options_; }

  BasicConv2d Conv2d_1a_3x3{nullptr};  ///< 3x3 / 2 -> 32
  BasicConv2d Conv2d_2a_3x3{nullptr};  ///< 3x3 -> 32
  BasicConv2d Conv2d_2b_3x3{nullptr};  ///< 3x3 pad 1 -> 64
  MaxPool2d maxpool1{nullptr};         ///< 3 / 2
  BasicConv2d Conv2d_3b_1x1{nullptr};  ///< 1x1 -> 80
  BasicConv2d Conv2d_4a_3x3{nullptr};  ///< 3x3 -> 192
  MaxPool2d maxpool2{nullptr};         ///< 3 / 2
  InceptionA Mixed_5b{nullptr};        ///< -> 256
  InceptionA Mixed_5c{nullptr};        ///< -> 288
  InceptionA Mixed_5d{nullptr};        ///< -> 288
  InceptionB Mixed_6a{nullptr};        ///< -> 768
  InceptionC Mixed_6b{nullptr};        ///< -> 768
  InceptionC Mixed_6c{nullptr};        ///< -> 768
  InceptionC Mixed_6d{nullptr};        ///< -> 768
  InceptionC Mixed_6e{nullptr};        ///< -> 768
  InceptionAux AuxLogits{nullptr};     ///< empty without aux_logits
  InceptionD Mixed_7a{nullptr};        ///< -> 1280
  InceptionE Mixed_7b{nullptr};        ///< -> 2048
  InceptionE Mixed_7c{nullptr};        ///< -> 2048
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Dropout dropout{nullptr};            ///< before fc
  Linear fc{nullptr};                  ///< 2048 -> num_classes

 private:
  InceptionOutputs run(at::Tensor x, bool with_aux);
  Inception3Options options_;
};
/// Handle of Inception3Impl.
TORCH_MODULE(Inception3);

/// Inception v3, random init unless args.init_weights is false. `args.extra`
/// may hold {"aux_logits": b (default true), "transform_input": b (default
/// false), "init_weights": b, "dropout": p}; "image_size" is accepted and
/// ignored.
Inception3 inception_v3(const ArchArgs& args = {});

}  // namespace modelzoo::models
