#pragma once
/// \file
/// The matrix products of windowed attention (Swin, MaxViT), routed through
/// the attention module's inference kernel when one is installed
/// (modelzoo::optimize_for_inference) and the module is in eval mode;
/// otherwise plain at::matmul.

#include <ATen/core/Tensor.h>

#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// An inference kernel that also serves an attention module's matrix products.
class AttentionMatmulKernel : public InferenceKernel {
 public:
  /// a @ b for [..., M, K] x [..., K, N], or an undefined tensor to decline.
  virtual at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) = 0;
};

/// a @ b: through `layer`'s AttentionMatmulKernel when it has one, is in
/// eval mode and the kernel takes the call; at::matmul otherwise.
at::Tensor attention_matmul(const LayerImpl& layer, const at::Tensor& a, const at::Tensor& b);

}  // namespace modelzoo::models
