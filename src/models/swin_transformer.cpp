#include "modelzoo/models/swin_transformer.h"

#include <cmath>
#include <numeric>
#include <ostream>
#include <sstream>

#include <ATen/ops/abs.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/log2.h>
#include <ATen/ops/meshgrid.h>
#include <ATen/ops/roll.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/sign.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include "modelzoo/error.h"
#include "modelzoo/models/attention.h"
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

void require_pair(const std::string& who, const char* field, const std::vector<int64_t>& v,
                  bool allow_zero) {
  bool ok = v.size() == 2;
  for (int64_t x : v) ok = ok && (x > 0 || (allow_zero && x == 0));
  if (!ok) {
    throw Error(who + ": " + field + " must hold two " + (allow_zero ? "non-negative" : "positive") +
                " integers, got " + shape_str(v));
  }
}

// Index into the relative position bias table for every (query, key) pair of
// a wh x ww window, flattened: [(wh*ww)^2] (define_relative_position_index).
at::Tensor make_relative_position_index(int64_t wh, int64_t ww) {
  const int64_t n = wh * ww;
  at::Tensor index = at::empty({n * n}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t dh = i / ww - j / ww + wh - 1;
      const int64_t dw = i % ww - j % ww + ww - 1;
      out[i * n + j] = dh * (2 * ww - 1) + dw;
    }
  }
  return index;
}

// ShiftedWindowAttentionV2.define_relative_position_bias_table: log-spaced
// relative coordinates [1, 2wh-1, 2ww-1, 2], with float32 arithmetic in
// Python's order.
at::Tensor make_relative_coords_table(int64_t wh, int64_t ww) {
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  at::Tensor h = at::arange(-(wh - 1), wh, opts);
  at::Tensor w = at::arange(-(ww - 1), ww, opts);
  at::Tensor table = at::stack(at::meshgrid({h, w}, "ij")).permute({1, 2, 0}).contiguous().unsqueeze(0);
  table.select(-1, 0).div_(static_cast<double>(wh - 1));
  table.select(-1, 1).div_(static_cast<double>(ww - 1));
  table.mul_(8);
  return at::sign(table) * at::log2(at::abs(table) + 1.0) / 3.0;
}

// Python's slice(start, stop) bounds on a dimension of length `len`
// (negative values count from the end; no stop means the end).
std::pair<int64_t, int64_t> py_slice(int64_t start, c10::optional<int64_t> stop, int64_t len) {
  auto norm = [len](int64_t v) {
    if (v < 0) v += len;
    return std::min(std::max<int64_t>(v, 0), len);
  };
  return {norm(start), stop ? norm(*stop) : len};
}

// The attention mask of shifted windows: 0 within a region, -100 across
// regions; [num_windows, ws0*ws1, ws0*ws1] (from shifted_window_attention).
at::Tensor shift_attention_mask(int64_t pad_h, int64_t pad_w, const std::vector<int64_t>& window,
                                const std::vector<int64_t>& shift, const at::TensorOptions& options) {
  at::Tensor mask = at::zeros({pad_h, pad_w}, at::kFloat);
  auto a = mask.accessor<float, 2>();
  using Slice = std::pair<int64_t, c10::optional<int64_t>>;
  const Slice h_slices[3] = {{0, -window[0]}, {-window[0], -shift[0]}, {-shift[0], c10::nullopt}};
  const Slice w_slices[3] = {{0, -window[1]}, {-window[1], -shift[1]}, {-shift[1], c10::nullopt}};
  float count = 0;
  for (const auto& hs : h_slices) {
    const auto [h0, h1] = py_slice(hs.first, hs.second, pad_h);
    for (const auto& ws : w_slices) {
      const auto [w0, w1] = py_slice(ws.first, ws.second, pad_w);
      for (int64_t i = h0; i < h1; ++i) {
        for (int64_t j = w0; j < w1; ++j) a[i][j] = count;
      }
      count += 1;
    }
  }
  const int64_t num_windows = (pad_h / window[0]) * (pad_w / window[1]);
  mask = mask.view({pad_h / window[0], window[0], pad_w / window[1], window[1]})
             .permute({0, 2, 1, 3})
             .reshape({num_windows, window[0] * window[1]});
  mask = mask.unsqueeze(1) - mask.unsqueeze(2);
  mask = at::where(mask != 0, at::full_like(mask, -100.0), at::zeros_like(mask));
  return mask.to(options.dtype());
}

// F.normalize(x, dim=-1): x / max(||x||_2, 1e-12).
at::Tensor l2_normalize(const at::Tensor& x) {
  return x / x.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12).expand_as(x);
}

}  // namespace

// ---------------------------------------------------------------------------
// ShiftedWindowAttention
// ---------------------------------------------------------------------------

ShiftedWindowAttentionImpl::ShiftedWindowAttentionImpl(const ShiftedWindowAttentionOptions& o,
                                                       const InitPolicy& policy)
    : LayerImpl(o.v2() ? "ShiftedWindowAttentionV2" : "ShiftedWindowAttention"), options_(o) {
  const std::string who = name();
  require_positive(who, "dim", o.dim());
  require_positive(who, "num_heads", o.num_heads());
  require_pair(who, "window_size", o.window_size(), false);
  require_pair(who, "shift_size", o.shift_size(), true);
  require_probability(who, "attention_dropout", o.attention_dropout());
  require_probability(who, "dropout", o.dropout());
  if (o.dim() % o.num_heads() != 0) {
    throw Error(who + ": dim (" + std::to_string(o.dim()) + ") must be divisible by num_heads (" +
                std::to_string(o.num_heads()) + ")");
  }
  const int64_t wh = o.window_size()[0], ww = o.window_size()[1];
  if (o.v2() && (wh < 2 || ww < 2)) {
    throw Error(who + ": window_size must be at least 2 x 2 (the coordinates table divides by "
                "window - 1), got " + shape_str(o.window_size()));
  }
  // Python's attribute order: qkv, proj, the table (v1 parameter / v2
  // buffer), relative_position_index, then v2's logit_scale and cpb_mlp.
  qkv = register_module("qkv", Linear(LinearOptions(o.dim(), 3 * o.dim()).bias(o.qkv_bias()), policy));
  proj = register_module("proj", Linear(LinearOptions(o.dim(), o.dim()).bias(o.proj_bias()), policy));
  if (o.v2()) {
    relative_coords_table = register_buffer("relative_coords_table", make_relative_coords_table(wh, ww));
  } else {
    relative_position_bias_table = register_parameter(
        "relative_position_bias_table",
        new_parameter({(2 * wh - 1) * (2 * ww - 1), o.num_heads()}, ParamInit::trunc_normal(0.0, 0.02),
                      policy));
  }
  relative_position_index = register_buffer("relative_position_index", make_relative_position_index(wh, ww));
  if (o.v2()) {
    logit_scale = register_parameter(
        "logit_scale", new_parameter({o.num_heads(), 1, 1}, ParamInit::constant(std::log(10.0)), policy));
    Sequential mlp;
    mlp->push_back(Linear(LinearOptions(2, 512), policy));
    mlp->push_back(ReLU());
    mlp->push_back(Linear(LinearOptions(512, o.num_heads()).bias(false), policy));
    cpb_mlp = register_module("cpb_mlp", mlp);
  }
}

at::Tensor ShiftedWindowAttentionImpl::relative_position_bias() {
  const int64_t n = options_.window_size()[0] * options_.window_size()[1];
  at::Tensor table = options_.v2()
                         ? cpb_mlp->forward(relative_coords_table).view({-1, options_.num_heads()})
                         : relative_position_bias_table;
  at::Tensor bias = table.index_select(0, relative_position_index)
                        .view({n, n, -1})
                        .permute({2, 0, 1})
                        .contiguous()
                        .unsqueeze(0);
  return options_.v2() ? 16 * at::sigmoid(bias) : bias;
}

at::Tensor ShiftedWindowAttentionImpl::forward(const at::Tensor& input) {
  const int64_t c = options_.dim(), heads = options_.num_heads();
  if (input.dim() != 4 || input.size(3) != c) {
    throw Error(name() + "(dim=" + std::to_string(c) + "): expected input of shape [B, H, W, " +
                std::to_string(c) + "], got " + shape_str(input.sizes()));
  }
  const std::vector<int64_t>& window = options_.window_size();
  const int64_t b = input.size(0), h = input.size(1), w = input.size(2);
  // Pad the feature map to whole windows.
  const int64_t pad_r = (window[1] - w % window[1]) % window[1];
  const int64_t pad_b = (window[0] - h % window[0]) % window[0];
  at::Tensor x = at::constant_pad_nd(input, {0, 0, 0, pad_r, 0, pad_b}, 0);
  const int64_t pad_h = x.size(1), pad_w = x.size(2);

  // No shift along a dimension the window already covers.
  std::vector<int64_t> shift = options_.shift_size();
  if (window[0] >= pad_h) shift[0] = 0;
  if (window[1] >= pad_w) shift[1] = 0;
  const bool shifted = shift[0] + shift[1] > 0;
  if (shifted) x = at::roll(x, {-shift[0], -shift[1]}, {1, 2});

  // Partition into windows: [B * nW, Wh * Ww, C].
  const int64_t num_windows = (pad_h / window[0]) * (pad_w / window[1]);
  const int64_t n = window[0] * window[1];
  x = x.reshape({b, pad_h / window[0], window[0], pad_w / window[1], window[1], c})
          .permute({0, 1, 3, 2, 4, 5})
          .reshape({b * num_windows, n, c});

  // Through the qkv layer itself (so an inference kernel serves it); v2 has
  // no key bias (torchvision zeroes that third of a clone of qkv.bias).
  at::Tensor qkv_out = qkv->forward(x);
  if (options_.v2() && qkv->bias.defined()) {
    const int64_t length = qkv->bias.numel() / 3;
    qkv_out.narrow(-1, length, length).sub_(qkv->bias.narrow(0, length, length));
  }
  qkv_out = qkv_out.reshape({x.size(0), x.size(1), 3, heads, c / heads}).permute({2, 0, 3, 1, 4});
  at::Tensor q = qkv_out[0], k = qkv_out[1], v = qkv_out[2];
  at::Tensor attn;
  if (options_.v2()) {
    // Cosine attention.
    attn = attention_matmul(*this, l2_normalize(q), l2_normalize(k).transpose(-2, -1));
    attn = attn * at::clamp_max(logit_scale, std::log(100.0)).exp();
  } else {
    q = q * std::pow(static_cast<double>(c / heads), -0.5);
    attn = attention_matmul(*this, q, k.transpose(-2, -1));
  }
  attn = attn + relative_position_bias();

  if (shifted) {
    const at::Tensor mask = shift_attention_mask(pad_h, pad_w, window, shift, attn.options());
    attn = attn.view({x.size(0) / num_windows, num_windows, heads, n, n}) +
           mask.unsqueeze(1).unsqueeze(0);
    attn = attn.view({-1, heads, n, n});
  }
  attn = at::softmax(attn, -1);
  if (is_training() && options_.attention_dropout() > 0.0) {
    attn = at::dropout(attn, options_.attention_dropout(), true);
  }
  x = attention_matmul(*this, attn, v).transpose(1, 2).reshape({x.size(0), x.size(1), c});
  x = proj->forward(x);
  if (is_training() && options_.dropout() > 0.0) x = at::dropout(x, options_.dropout(), true);

  // Reverse the partition, the shift and the padding.
  x = x.view({b, pad_h / window[0], pad_w / window[1], window[0], window[1], c})
          .permute({0, 1, 3, 2, 4, 5})
          .reshape({b, pad_h, pad_w, c});
  if (shifted) x = at::roll(x, {shift[0], shift[1]}, {1, 2});
  return x.slice(1, 0, h).slice(2, 0, w).contiguous();
}

void ShiftedWindowAttentionImpl::pretty_print(std::ostream& os) const {
  os << name() << "(dim=" << options_.dim() << ", window_size=" << shape_str(options_.window_size())
     << ", shift_size=" << shape_str(options_.shift_size()) << ", num_heads=" << options_.num_heads()
     << ")";
}

// ---------------------------------------------------------------------------
// SwinTransformerBlock
// ---------------------------------------------------------------------------

SwinTransformerBlockImpl::SwinTransformerBlockImpl(const SwinTransformerBlockOptions& o,
                                                   const InitPolicy& policy)
    : LayerImpl(o.v2() ? "SwinTransformerBlockV2" : "SwinTransformerBlock"), options_(o) {
  require_positive(name(), "dim", o.dim());
  if (!(o.mlp_ratio() > 0)) {
    throw Error(name() + ": mlp_ratio must be positive, got " + std::to_string(o.mlp_ratio()));
  }
  norm1 = register_module("norm1", LayerNorm(LayerNormOptions({o.dim()}).eps(o.norm_eps()), policy));
  attn = register_module(
      "attn", ShiftedWindowAttention(
                  ShiftedWindowAttentionOptions(o.dim(), o.window_size(), o.shift_size(), o.num_heads())
                      .attention_dropout(o.attention_dropout())
                      .dropout(o.dropout())
                      .v2(o.v2()),
                  policy));
  stochastic_depth = register_module("stochastic_depth", StochasticDepth(o.stochastic_depth_prob(), "row"));
  norm2 = register_module("norm2", LayerNorm(LayerNormOptions({o.dim()}).eps(o.norm_eps()), policy));
  // int(dim * mlp_ratio), as Python truncates.
  const auto hidden = static_cast<int64_t>(static_cast<double>(o.dim()) * o.mlp_ratio());
  mlp = register_module("mlp", MLP(MLPOptions(o.dim(), {hidden, o.dim()})
                                       .activation(activation_factory<GELU>())
                                       .dropout(o.dropout()),
                                   policy));
}

at::Tensor SwinTransformerBlockImpl::forward(const at::Tensor& input) {
  at::Tensor x = input;
  if (options_.v2()) {
    x = x + stochastic_depth->forward(norm1->forward(attn->forward(x)));
    return x + stochastic_depth->forward(norm2->forward(mlp->forward(x)));
  }
  x = x + stochastic_depth->forward(attn->forward(norm1->forward(x)));
  return x + stochastic_depth->forward(mlp->forward(norm2->forward(x)));
}

// ---------------------------------------------------------------------------
// PatchMerging
// ---------------------------------------------------------------------------

PatchMergingImpl::PatchMergingImpl(int64_t dim, bool v2, double norm_eps, const InitPolicy& policy)
    : LayerImpl(v2 ? "PatchMergingV2" : "PatchMerging"), dim_(dim), v2_(v2) {
  require_positive(name(), "dim", dim);
  reduction = register_module("reduction", Linear(LinearOptions(4 * dim, 2 * dim).bias(false), policy));
  norm = register_module("norm", LayerNorm(LayerNormOptions({v2 ? 2 * dim : 4 * dim}).eps(norm_eps), policy));
}

at::Tensor PatchMergingImpl::forward(const at::Tensor& input) {
  if (input.dim() < 3 || input.size(-1) != dim_) {
    throw Error(name() + "(dim=" + std::to_string(dim_) + "): expected input of shape [..., H, W, " +
                std::to_string(dim_) + "], got " + shape_str(input.sizes()));
  }
  const int64_t h = input.size(-3), w = input.size(-2);
  const at::Tensor x = at::constant_pad_nd(input, {0, 0, 0, w % 2, 0, h % 2}, 0);
  auto pick = [&x](int64_t i, int64_t j) {
    return x.slice(-3, i, c10::nullopt, 2).slice(-2, j, c10::nullopt, 2);
  };
  at::Tensor merged = at::cat({pick(0, 0), pick(1, 0), pick(0, 1), pick(1, 1)}, -1);
  if (v2_) return norm->forward(reduction->forward(merged));
  return reduction->forward(norm->forward(merged));
}

// ---------------------------------------------------------------------------
// SwinTransformer
// ---------------------------------------------------------------------------

SwinTransformerImpl::SwinTransformerImpl(const SwinTransformerOptions& o) : options_(o) {
  const std::string who = "SwinTransformer";
  require_pair(who, "patch_size", o.patch_size(), false);
  require_pair(who, "window_size", o.window_size(), false);
  require_positive(who, "embed_dim", o.embed_dim());
  require_positive(who, "num_classes", o.num_classes());
  require_probability(who, "stochastic_depth_prob", o.stochastic_depth_prob());
  if (o.depths().empty() || o.depths().size() != o.num_heads().size()) {
    throw Error(who + ": depths and num_heads must be non-empty lists of the same length, got " +
                shape_str(o.depths()) + " and " + shape_str(o.num_heads()));
  }
  for (int64_t d : o.depths()) require_positive(who, "every depth", d);

  // SwinTransformer.__init__: every Linear trunc_normal_(std=0.02) with zero
  // bias (overriding the MLP's own init); the rest keeps torch.nn's defaults.
  InitPolicy init = InitPolicy::torch_default(o.init_weights());
  init.linear_weight = ParamInit::trunc_normal(0.0, 0.02);
  init.linear_bias = ParamInit::zeros();
  const double eps = 1e-5;

  Sequential layers;
  Sequential stem;
  const auto& p = o.patch_size();
  stem->push_back(Conv2d(Conv2dOptions(3, o.embed_dim(), {p[0], p[1]}).stride({p[0], p[1]}), init));
  stem->push_back(Permute(std::vector<int64_t>{0, 2, 3, 1}));
  stem->push_back(LayerNorm(LayerNormOptions({o.embed_dim()}).eps(eps), init));
  layers->push_back(stem);

  const int64_t total_blocks = std::accumulate(o.depths().begin(), o.depths().end(), int64_t{0});
  int64_t block_id = 0;
  const auto num_stages = static_cast<int64_t>(o.depths().size());
  for (int64_t i_stage = 0; i_stage < num_stages; ++i_stage) {
    const int64_t dim = o.embed_dim() << i_stage;
    Sequential stage;
    for (int64_t i_layer = 0; i_layer < o.depths()[i_stage]; ++i_layer) {
      // Stochastic depth grows linearly with the block's depth in the network.
      const double sd_prob = total_blocks > 1 ? o.stochastic_depth_prob() * static_cast<double>(block_id) /
                                                    static_cast<double>(total_blocks - 1)
                                              : 0.0;
      std::vector<int64_t> shift = {0, 0};
      if (i_layer % 2 == 1) shift = {o.window_size()[0] / 2, o.window_size()[1] / 2};
      stage->push_back(SwinTransformerBlock(
          SwinTransformerBlockOptions(dim, o.num_heads()[i_stage], o.window_size(), shift)
              .mlp_ratio(o.mlp_ratio())
              .dropout(o.dropout())
              .attention_dropout(o.attention_dropout())
              .stochastic_depth_prob(sd_prob)
              .norm_eps(eps)
              .v2(o.v2()),
          init));
      ++block_id;
    }
    layers->push_back(stage);
    if (i_stage < num_stages - 1) layers->push_back(PatchMerging(dim, o.v2(), eps, init));
  }
  features = register_module("features", layers);

  const int64_t num_features = o.embed_dim() << (num_stages - 1);
  norm = register_module("norm", LayerNorm(LayerNormOptions({num_features}).eps(eps), init));
  permute = register_module("permute", Permute(std::vector<int64_t>{0, 3, 1, 2}));
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  flatten = register_module("flatten", Flatten(1));
  head = register_module("head", Linear(LinearOptions(num_features, o.num_classes()), init));
}

at::Tensor SwinTransformerImpl::forward(at::Tensor x) {
  const auto& p = options_.patch_size();
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) < p[0] || x.size(3) < p[1]) {
    throw Error("SwinTransformer: expected input of shape [N, 3, H, W] with H >= " +
                std::to_string(p[0]) + " and W >= " + std::to_string(p[1]) + ", got " +
                shape_str(x.sizes()));
  }
  x = features->forward(x);
  x = norm->forward(x);
  x = permute->forward(x);
  x = avgpool->forward(x);
  x = flatten->forward(x);
  return head->forward(x);
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

namespace {

SwinTransformer make(const std::string& arch, int64_t embed_dim, std::vector<int64_t> depths,
                     std::vector<int64_t> num_heads, int64_t window, double stochastic_depth_prob,
                     bool v2, const ArchArgs& args) {
  check_extra_keys(args, arch,
                   {"dropout", "attention_dropout", "stochastic_depth_prob", "mlp_ratio", "image_size"});
  // image_size (passed for pretrained weights) is checked but not needed:
  // the windows are padded, so Swin takes any input size.
  const double image_size = extra_number(args, arch, "image_size", 224);
  if (!(image_size >= 4)) {
    throw Error(arch + ": extra argument 'image_size' must be at least the patch size 4, got " +
                args.extra.at("image_size").dump());
  }
  return SwinTransformer(
      SwinTransformerOptions({4, 4}, embed_dim, std::move(depths), std::move(num_heads), {window, window})
          .mlp_ratio(extra_number(args, arch, "mlp_ratio", 4.0))
          .dropout(extra_number(args, arch, "dropout", 0.0))
          .attention_dropout(extra_number(args, arch, "attention_dropout", 0.0))
          .stochastic_depth_prob(extra_number(args, arch, "stochastic_depth_prob", stochastic_depth_prob))
          .num_classes(args.num_classes)
          .v2(v2)
          .init_weights(args.init_weights));
}

}  // namespace

SwinTransformer swin_t(const ArchArgs& args) {
  return make("swin_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 0.2, false, args);
}
SwinTransformer swin_s(const ArchArgs& args) {
  return make("swin_s", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7, 0.3, false, args);
}
SwinTransformer swin_b(const ArchArgs& args) {
  return make("swin_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7, 0.5, false, args);
}
SwinTransformer swin_v2_t(const ArchArgs& args) {
  return make("swin_v2_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 8, 0.2, true, args);
}
SwinTransformer swin_v2_s(const ArchArgs& args) {
  return make("swin_v2_s", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 8, 0.3, true, args);
}
SwinTransformer swin_v2_b(const ArchArgs& args) {
  return make("swin_v2_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 8, 0.5, true, args);
}

}  // namespace modelzoo::models
