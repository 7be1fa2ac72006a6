#pragma once
/// \file
/// Vision Transformer (Dosovitskiy et al., 2020) as torchvision 0.14 builds
/// it: `conv_proj` (a patch_size x patch_size convolution with stride
/// patch_size), a learnt `class_token` prepended to the patch sequence,
/// `encoder` (learnt `pos_embedding`, `layers.encoder_layer_<i>` pre-norm
/// transformer blocks, final LayerNorm `ln`) and `heads` (`head`, or
/// `pre_logits` + Tanh + `head` with a representation layer). LayerNorm eps is
/// 1e-6 and GELU is the exact (erf) one, as in torchvision.
///
/// The position embedding has (image_size / patch_size)^2 + 1 rows, so the
/// model accepts only images of exactly image_size x image_size: 224 for the
/// IMAGENET1K_V1 and *_SWAG_LINEAR_V1 weights, 384/512/518 for the
/// SWAG_E2E ones (the hub passes the weights' min_size as "image_size").
///
/// Weight files saved before torchvision 0.13 name the MLP layers
/// `mlp.linear_1` / `mlp.linear_2`; torchvision's MLPBlock renames them to
/// `mlp.0` / `mlp.3` on load, and so does the catalog entry of every ViT.
///
/// torchvision's `conv_stem_configs` (a convolutional stem instead of the
/// patchify convolution, used by none of its builders or weights) is not
/// offered.

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of MultiheadAttention (self-attention, batch first, same
/// embedding size for query, key and value, with biases).
struct MultiheadAttentionOptions {
  /// Required: embedding size and number of heads (embed_dim % num_heads == 0).
  MultiheadAttentionOptions(int64_t embed_dim, int64_t num_heads)
      : embed_dim_(embed_dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(int64_t, num_heads);
  /// Dropout on the attention weights (training mode only).
  TORCH_ARG(double, dropout) = 0.0;
};

/// nn.MultiheadAttention(embed_dim, num_heads, batch_first=True) used as
/// self-attention: parameters `in_proj_weight` [3E, E], `in_proj_bias` [3E]
/// and child `out_proj` (Linear E -> E). Forward computes
/// softmax(q k^T / sqrt(E / heads)) v per head, then out_proj, which is
/// Python's eval-mode result (need_weights=False) within float rounding.
class MultiheadAttentionImpl : public LayerImpl {
 public:
  /// Validates the options and allocates the parameters per `policy`
  /// (in_proj_weight: xavier_uniform_, in_proj_bias and out_proj.bias:
  /// zeros, out_proj.weight: Linear's default, as torch.nn does).
  MultiheadAttentionImpl(const MultiheadAttentionOptions& options, const InitPolicy& policy);
  /// Self-attention over `x` of shape [N, L, E].
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const MultiheadAttentionOptions& options() const { return options_; }

  at::Tensor in_proj_weight;  ///< [3E, E]: query, key, value projections stacked
  at::Tensor in_proj_bias;    ///< [3E]
  Linear out_proj{nullptr};   ///< E -> E

 private:
  MultiheadAttentionOptions options_;
};
/// Handle of MultiheadAttentionImpl.
TORCH_MODULE(MultiheadAttention);

/// Options of one transformer encoder block.
struct EncoderBlockOptions {
  /// Required: heads, width, MLP width.
  EncoderBlockOptions(int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim)
      : num_heads_(num_heads), hidden_dim_(hidden_dim), mlp_dim_(mlp_dim) {}
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, hidden_dim);
  TORCH_ARG(int64_t, mlp_dim);
  /// Dropout after attention and inside the MLP.
  TORCH_ARG(double, dropout) = 0.0;
  /// Dropout on attention weights.
  TORCH_ARG(double, attention_dropout) = 0.0;
  /// LayerNorm epsilon.
  TORCH_ARG(double, norm_eps) = 1e-6;
};

/// torchvision's EncoderBlock: children `ln_1`, `self_attention`, `dropout`,
/// `ln_2`, `mlp` (0 Linear, 1 GELU, 2 Dropout, 3 Linear, 4 Dropout).
/// x = x + dropout(attn(ln_1(x))); x = x + mlp(ln_2(x)).
class EncoderBlockImpl : public LayerImpl {
 public:
  /// Builds the block; MLP layers get xavier_uniform_ weights and
  /// normal(std=1e-6) biases when initialised, as torchvision's MLPBlock.
  EncoderBlockImpl(const EncoderBlockOptions& options, const InitPolicy& policy);
  /// `x`: [N, L, hidden_dim]; modelzoo::Error for another rank.
  at::Tensor forward(const at::Tensor& x) override;

  LayerNorm ln_1{nullptr};                  ///< before attention
  MultiheadAttention self_attention{nullptr};
  Dropout dropout{nullptr};                 ///< after attention
  LayerNorm ln_2{nullptr};                  ///< before the MLP
  MLP mlp{nullptr};                         ///< Linear, GELU, Dropout, Linear, Dropout
};
/// Handle of EncoderBlockImpl.
TORCH_MODULE(EncoderBlock);

/// Options of the encoder (position embedding + blocks + final norm).
struct EncoderOptions {
  /// Required: sequence length (patches + class token), depth, heads, widths.
  EncoderOptions(int64_t seq_length, int64_t num_layers, int64_t num_heads, int64_t hidden_dim,
                 int64_t mlp_dim)
      : seq_length_(seq_length),
        num_layers_(num_layers),
        num_heads_(num_heads),
        hidden_dim_(hidden_dim),
        mlp_dim_(mlp_dim) {}
  TORCH_ARG(int64_t, seq_length);
  TORCH_ARG(int64_t, num_layers);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, hidden_dim);
  TORCH_ARG(int64_t, mlp_dim);
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, attention_dropout) = 0.0;
  /// LayerNorm epsilon.
  TORCH_ARG(double, norm_eps) = 1e-6;
};

/// torchvision's Encoder: parameter `pos_embedding` [1, seq_length,
/// hidden_dim] (normal(std=0.02) when initialised), children `dropout`,
/// `layers` (`encoder_layer_0`, ...), `ln`.
class EncoderImpl : public LayerImpl {
 public:
  /// Builds the encoder.
  EncoderImpl(const EncoderOptions& options, const InitPolicy& policy);
  /// ln(layers(dropout(x + pos_embedding))); `x`: [N, seq_length, hidden_dim].
  at::Tensor forward(const at::Tensor& x) override;

  at::Tensor pos_embedding;       ///< [1, seq_length, hidden_dim]
  Dropout dropout{nullptr};
  Sequential layers{nullptr};     ///< encoder_layer_0 ... encoder_layer_{n-1}
  LayerNorm ln{nullptr};

 private:
  EncoderOptions options_;
};
/// Handle of EncoderImpl.
TORCH_MODULE(Encoder);

/// Options of VisionTransformer (torchvision's constructor arguments).
struct VisionTransformerOptions {
  /// Required: the geometry and widths of the network.
  VisionTransformerOptions(int64_t image_size, int64_t patch_size, int64_t num_layers,
                           int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim)
      : image_size_(image_size),
        patch_size_(patch_size),
        num_layers_(num_layers),
        num_heads_(num_heads),
        hidden_dim_(hidden_dim),
        mlp_dim_(mlp_dim) {}
  /// Input height and width; must be a multiple of patch_size.
  TORCH_ARG(int64_t, image_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, num_layers);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, hidden_dim);
  TORCH_ARG(int64_t, mlp_dim);
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, attention_dropout) = 0.0;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// With a value: heads are pre_logits (Linear) + Tanh + head.
  TORCH_ARG(c10::optional<int64_t>, representation_size) = c10::nullopt;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// VisionTransformer; children `conv_proj`, `encoder`, `heads` and parameter
/// `class_token` [1, 1, hidden_dim], named as in torchvision.
class VisionTransformerImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for non-positive sizes, image_size
  /// not divisible by patch_size, hidden_dim not divisible by num_heads,
  /// dropouts outside [0, 1] or num_classes < 1.
  explicit VisionTransformerImpl(const VisionTransformerOptions& options);
  /// Patchify -> prepend class token -> encoder -> class token -> heads.
  /// `x` must be N x 3 x image_size x image_size (modelzoo::Error otherwise).
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const VisionTransformerOptions& options() const { return options_; }
  /// Number of tokens: (image_size / patch_size)^2 + 1.
  int64_t seq_length() const;

  Conv2d conv_proj{nullptr};   ///< patch embedding
  at::Tensor class_token;      ///< [1, 1, hidden_dim]
  Encoder encoder{nullptr};
  Sequential heads{nullptr};   ///< "head" (or "pre_logits", "act", "head")

 private:
  VisionTransformerOptions options_;
};
/// Handle of VisionTransformerImpl.
TORCH_MODULE(VisionTransformer);

/// ViT-B/16 (12 layers, 12 heads, width 768, MLP 3072). `args.extra` may hold
/// "image_size" (default 224), "dropout", "attention_dropout",
/// "representation_size".
VisionTransformer vit_b_16(const ArchArgs& args = {});
/// ViT-B/32 (as B/16 with 32 x 32 patches).
VisionTransformer vit_b_32(const ArchArgs& args = {});
/// ViT-L/16 (24 layers, 16 heads, width 1024, MLP 4096).
VisionTransformer vit_l_16(const ArchArgs& args = {});
/// ViT-L/32 (as L/16 with 32 x 32 patches).
VisionTransformer vit_l_32(const ArchArgs& args = {});
/// ViT-H/14 (32 layers, 16 heads, width 1280, MLP 5120; ~632M parameters,
/// 2.5 GB in float32).
VisionTransformer vit_h_14(const ArchArgs& args = {});

}  // namespace modelzoo::models
