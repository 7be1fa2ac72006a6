#include "modelzoo/models/vision_transformer.h"

#include <cmath>
#include <ostream>
#include <sstream>

#include <ATen/ops/cat.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/softmax.h>

#include "modelzoo/error.h"
#include "shape_str.h"

namespace modelzoo::models {
namespace {

void require_positive(const std::string& who, const char* field, int64_t v) {
  if (v <= 0) throw Error(who + ": " + field + " must be positive, got " + std::to_string(v));
}

void require_probability(const std::string& who, const char* field, double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(who + ": " + field + " must be in [0, 1], got " + std::to_string(p));
  }
}

// torchvision's MLPBlock: an MLP (Linear, GELU, Dropout, Linear, Dropout)
// with xavier_uniform_ weights and normal(std=1e-6) biases.
MLP make_mlp(int64_t in_dim, int64_t mlp_dim, double dropout, const InitPolicy& policy) {
  InitPolicy init = policy;
  init.linear_weight = ParamInit::xavier_uniform();
  init.linear_bias = ParamInit::normal(0.0, 1e-6);
  return MLP(MLPOptions(in_dim, {mlp_dim, in_dim})
                 .activation(activation_factory<GELU>())
                 .dropout(dropout),
             init);
}

}  // namespace

// ---------------------------------------------------------------------------
// MultiheadAttention
// ---------------------------------------------------------------------------

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& o,
                                               const InitPolicy& policy)
    : LayerImpl("MultiheadAttention"), options_(o) {
  require_positive("MultiheadAttention", "embed_dim", o.embed_dim());
  require_positive("MultiheadAttention", "num_heads", o.num_heads());
  require_probability("MultiheadAttention", "dropout", o.dropout());
  if (o.embed_dim() % o.num_heads() != 0) {
    throw Error("MultiheadAttention: embed_dim (" + std::to_string(o.embed_dim()) +
                ") must be divisible by num_heads (" + std::to_string(o.num_heads()) + ")");
  }
  const int64_t e = o.embed_dim();
  // nn.MultiheadAttention._reset_parameters: xavier_uniform_ in_proj_weight,
  // zero in_proj_bias and out_proj.bias; out_proj.weight keeps Linear's default.
  in_proj_weight = register_parameter(
      "in_proj_weight", new_parameter({3 * e, e}, ParamInit::xavier_uniform(), policy));
  in_proj_bias = register_parameter("in_proj_bias", new_parameter({3 * e}, ParamInit::zeros(), policy));
  out_proj = register_module(
      "out_proj", Linear(LinearOptions(e, e)
                             .weight_init(ParamInit::torch_default())
                             .bias_init(ParamInit::zeros()),
                         policy));
}

at::Tensor MultiheadAttentionImpl::forward(const at::Tensor& x) {
  const int64_t e = options_.embed_dim(), h = options_.num_heads(), d = e / h;
  if (x.dim() != 3 || x.size(2) != e) {
    throw Error("MultiheadAttention(embed_dim=" + std::to_string(e) +
                "): expected input of shape [N, L, " + std::to_string(e) + "], got " +
                shape_str(x.sizes()));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  const int64_t n = x.size(0), l = x.size(1);
  // [N, L, 3E] -> [3, N, H, L, D]
  at::Tensor qkv = at::linear(x, in_proj_weight, in_proj_bias)
                       .reshape({n, l, 3, h, d})
                       .permute({2, 0, 3, 1, 4});
  at::Tensor q = qkv[0] / std::sqrt(static_cast<double>(d));
  at::Tensor attn = at::softmax(at::matmul(q, qkv[1].transpose(-2, -1)), -1);
  if (is_training() && options_.dropout() > 0.0) attn = at::dropout(attn, options_.dropout(), true);
  at::Tensor out = at::matmul(attn, qkv[2]).transpose(1, 2).reshape({n, l, e});
  return out_proj->forward(out);
}

void MultiheadAttentionImpl::pretty_print(std::ostream& os) const {
  os << "MultiheadAttention(embed_dim=" << options_.embed_dim()
     << ", num_heads=" << options_.num_heads() << ", dropout=" << options_.dropout() << ")";
}

// ---------------------------------------------------------------------------
// EncoderBlock
// ---------------------------------------------------------------------------

EncoderBlockImpl::EncoderBlockImpl(const EncoderBlockOptions& o, const InitPolicy& policy)
    : LayerImpl("EncoderBlock") {
  require_probability("EncoderBlock", "dropout", o.dropout());
  ln_1 = register_module("ln_1", LayerNorm(LayerNormOptions({o.hidden_dim()}).eps(o.norm_eps()), policy));
  self_attention = register_module(
      "self_attention",
      MultiheadAttention(
          MultiheadAttentionOptions(o.hidden_dim(), o.num_heads()).dropout(o.attention_dropout()),
          policy));
  dropout = register_module("dropout", Dropout(o.dropout()));
  ln_2 = register_module("ln_2", LayerNorm(LayerNormOptions({o.hidden_dim()}).eps(o.norm_eps()), policy));
  mlp = register_module("mlp", make_mlp(o.hidden_dim(), o.mlp_dim(), o.dropout(), policy));
}

at::Tensor EncoderBlockImpl::forward(const at::Tensor& input) {
  if (input.dim() != 3) {
    throw Error("EncoderBlock: expected (batch_size, seq_length, hidden_dim), got shape " +
                shape_str(input.sizes()));
  }
  at::Tensor x = dropout->forward(self_attention->forward(ln_1->forward(input))) + input;
  return x + mlp->forward(ln_2->forward(x));
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

EncoderImpl::EncoderImpl(const EncoderOptions& o, const InitPolicy& policy)
    : LayerImpl("Encoder"), options_(o) {
  require_positive("Encoder", "seq_length", o.seq_length());
  require_positive("Encoder", "num_layers", o.num_layers());
  require_positive("Encoder", "hidden_dim", o.hidden_dim());
  require_positive("Encoder", "mlp_dim", o.mlp_dim());
  // From BERT: normal(std=0.02).
  pos_embedding = register_parameter(
      "pos_embedding",
      new_parameter({1, o.seq_length(), o.hidden_dim()}, ParamInit::normal(0.0, 0.02), policy));
  dropout = register_module("dropout", Dropout(o.dropout()));
  Sequential blocks;
  for (int64_t i = 0; i < o.num_layers(); ++i) {
    blocks->push_back("encoder_layer_" + std::to_string(i),
                      EncoderBlock(EncoderBlockOptions(o.num_heads(), o.hidden_dim(), o.mlp_dim())
                                       .dropout(o.dropout())
                                       .attention_dropout(o.attention_dropout())
                                       .norm_eps(o.norm_eps()),
                                   policy));
  }
  layers = register_module("layers", blocks);
  ln = register_module("ln", LayerNorm(LayerNormOptions({o.hidden_dim()}).eps(o.norm_eps()), policy));
}

at::Tensor EncoderImpl::forward(const at::Tensor& input) {
  if (input.dim() != 3 || input.size(1) != options_.seq_length() ||
      input.size(2) != options_.hidden_dim()) {
    throw Error("Encoder: expected (batch_size, " + std::to_string(options_.seq_length()) + ", " +
                std::to_string(options_.hidden_dim()) + "), got shape " + shape_str(input.sizes()));
  }
  return ln->forward(layers->forward(dropout->forward(input + pos_embedding)));
}

// ---------------------------------------------------------------------------
// VisionTransformer
// ---------------------------------------------------------------------------

VisionTransformerImpl::VisionTransformerImpl(const VisionTransformerOptions& o) : options_(o) {
  const std::string who = "VisionTransformer";
  require_positive(who, "image_size", o.image_size());
  require_positive(who, "patch_size", o.patch_size());
  require_positive(who, "num_layers", o.num_layers());
  require_positive(who, "num_heads", o.num_heads());
  require_positive(who, "hidden_dim", o.hidden_dim());
  require_positive(who, "mlp_dim", o.mlp_dim());
  require_positive(who, "num_classes", o.num_classes());
  require_probability(who, "dropout", o.dropout());
  require_probability(who, "attention_dropout", o.attention_dropout());
  if (o.image_size() % o.patch_size() != 0) {
    throw Error(who + ": image_size (" + std::to_string(o.image_size()) +
                ") must be divisible by patch_size (" + std::to_string(o.patch_size()) + ")");
  }
  if (o.hidden_dim() % o.num_heads() != 0) {
    throw Error(who + ": hidden_dim (" + std::to_string(o.hidden_dim()) +
                ") must be divisible by num_heads (" + std::to_string(o.num_heads()) + ")");
  }
  if (o.representation_size()) require_positive(who, "representation_size", *o.representation_size());

  const InitPolicy init = InitPolicy::torch_default(o.init_weights());
  // Patchify stem: trunc_normal_(std=sqrt(1 / fan_in)), zero bias.
  const double fan_in = 3.0 * static_cast<double>(o.patch_size() * o.patch_size());
  conv_proj = register_module(
      "conv_proj", Conv2d(Conv2dOptions(3, o.hidden_dim(), o.patch_size())
                              .stride(o.patch_size())
                              .weight_init(ParamInit::trunc_normal(0.0, std::sqrt(1.0 / fan_in)))
                              .bias_init(ParamInit::zeros()),
                          init));
  class_token = register_parameter("class_token",
                                   new_parameter({1, 1, o.hidden_dim()}, ParamInit::zeros(), init));
  encoder = register_module(
      "encoder", Encoder(EncoderOptions(seq_length(), o.num_layers(), o.num_heads(), o.hidden_dim(),
                                        o.mlp_dim())
                             .dropout(o.dropout())
                             .attention_dropout(o.attention_dropout()),
                         init));
  Sequential head_layers;
  int64_t head_in = o.hidden_dim();
  if (o.representation_size()) {
    const int64_t r = *o.representation_size();
    head_layers->push_back(
        "pre_logits",
        Linear(LinearOptions(o.hidden_dim(), r)
                   .weight_init(ParamInit::trunc_normal(
                       0.0, std::sqrt(1.0 / static_cast<double>(o.hidden_dim()))))
                   .bias_init(ParamInit::zeros()),
               init));
    head_layers->push_back("act", Tanh());
    head_in = r;
  }
  head_layers->push_back("head", Linear(LinearOptions(head_in, o.num_classes())
                                            .weight_init(ParamInit::zeros())
                                            .bias_init(ParamInit::zeros()),
                                        init));
  heads = register_module("heads", head_layers);
}

int64_t VisionTransformerImpl::seq_length() const {
  const int64_t side = options_.image_size() / options_.patch_size();
  return side * side + 1;
}

at::Tensor VisionTransformerImpl::forward(at::Tensor x) {
  const int64_t s = options_.image_size(), p = options_.patch_size();
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != s || x.size(3) != s) {
    throw Error("VisionTransformer: expected input of shape [N, 3, " + std::to_string(s) + ", " +
                std::to_string(s) + "] (the image_size it was built for), got " +
                shape_str(x.sizes()));
  }
  const int64_t n = x.size(0), n_patches = (s / p) * (s / p);
  // (n, c, h, w) -> (n, hidden_dim, n_h, n_w) -> (n, n_h * n_w, hidden_dim)
  x = conv_proj->forward(x).reshape({n, options_.hidden_dim(), n_patches}).permute({0, 2, 1});
  x = at::cat({class_token.expand({n, -1, -1}), x}, 1);
  x = encoder->forward(x);
  return heads->forward(x.select(1, 0));
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

namespace {

int64_t extra_int(const ArchArgs& args, const std::string& arch, const std::string& key,
                  int64_t fallback) {
  const double v = extra_number(args, arch, key, static_cast<double>(fallback));
  if (v != std::floor(v) || v < 1 || v > 1e9) {
    throw Error(arch + ": extra argument '" + key + "' must be a positive integer, got " +
                args.extra.at(key).dump());
  }
  return static_cast<int64_t>(v);
}

VisionTransformer make(const std::string& arch, int64_t patch_size, int64_t num_layers,
                       int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim, const ArchArgs& args) {
  check_extra_keys(args, arch, {"image_size", "dropout", "attention_dropout", "representation_size"});
  VisionTransformerOptions o(extra_int(args, arch, "image_size", 224), patch_size, num_layers,
                             num_heads, hidden_dim, mlp_dim);
  o.dropout(extra_number(args, arch, "dropout", 0.0))
      .attention_dropout(extra_number(args, arch, "attention_dropout", 0.0))
      .num_classes(args.num_classes)
      .init_weights(args.init_weights);
  if (args.extra.is_object() && args.extra.contains("representation_size") &&
      !args.extra.at("representation_size").is_null()) {
    o.representation_size(extra_int(args, arch, "representation_size", 1));
  }
  if (o.image_size() % patch_size != 0) {
    throw Error(arch + ": extra argument 'image_size' (" + std::to_string(o.image_size()) +
                ") must be a multiple of the patch size " + std::to_string(patch_size));
  }
  return VisionTransformer(o);
}

}  // namespace

VisionTransformer vit_b_16(const ArchArgs& args) { return make("vit_b_16", 16, 12, 12, 768, 3072, args); }
VisionTransformer vit_b_32(const ArchArgs& args) { return make("vit_b_32", 32, 12, 12, 768, 3072, args); }
VisionTransformer vit_l_16(const ArchArgs& args) { return make("vit_l_16", 16, 24, 16, 1024, 4096, args); }
VisionTransformer vit_l_32(const ArchArgs& args) { return make("vit_l_32", 32, 24, 16, 1024, 4096, args); }
VisionTransformer vit_h_14(const ArchArgs& args) { return make("vit_h_14", 14, 32, 16, 1280, 5120, args); }

}  // namespace modelzoo::models
