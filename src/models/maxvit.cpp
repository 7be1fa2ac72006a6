#include "modelzoo/models/maxvit.h"

#include <cmath>
#include <numeric>
#include <sstream>

#include <ATen/ops/empty.h>
#include <ATen/ops/softmax.h>

#include "modelzoo/error.h"
#include "modelzoo/models/attention.h"
#include "shape_str.h"

namespace modelzoo::models {
namespace {

std::string pair_str(const MaxVitSize& s) {
  return "(" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ")";
}

void require_positive(const std::string& who, const char* field, int64_t v) {
  if (v <= 0) throw Error(who + ": " + field + " must be positive, got " + std::to_string(v));
}

void require_probability(const std::string& who, const char* field, double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(who + ": " + field + " must be in [0, 1], got " + std::to_string(p));
  }
}

// _get_conv_output_shape for a 3x3 convolution with stride 2 and padding 1.
MaxVitSize halved(const MaxVitSize& s) {
  return {(s[0] - 3 + 2) / 2 + 1, (s[1] - 3 + 2) / 2 + 1};
}

// _get_relative_position_index(size, size): [N, N] indices into the bias table.
at::Tensor make_relative_position_index(int64_t height, int64_t width) {
  const int64_t n = height * width;
  at::Tensor index = at::empty({n, n}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t dh = i / width - j / width + height - 1;
      const int64_t dw = i % width - j % width + width - 1;
      out[i * n + j] = dh * (2 * width - 1) + dw;
    }
  }
  return index;
}

// MaxVit._init_weights: Conv2d and Linear normal_(std=0.02) with zero biases,
// BatchNorm ones/zeros; LayerNorm keeps torch.nn's ones/zeros.
InitPolicy maxvit_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::normal(0.0, 0.02);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::normal(0.0, 0.02);
  p.linear_bias = ParamInit::zeros();
  return p;
}

// WindowPartition: [B, C, H, W] -> [B, H/P * W/P, P*P, C].
at::Tensor window_partition(const at::Tensor& x, int64_t p) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.reshape({b, c, h / p, p, w / p, p})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({b, (h / p) * (w / p), p * p, c});
}

// WindowDepartition: [B, HP * WP, P*P, C] -> [B, C, HP * P, WP * P].
at::Tensor window_departition(const at::Tensor& x, int64_t p, int64_t hp, int64_t wp) {
  const int64_t b = x.size(0), c = x.size(3);
  return x.reshape({b, hp, wp, p, p, c}).permute({0, 5, 1, 3, 2, 4}).reshape({b, c, hp * p, wp * p});
}

}  // namespace

// ---------------------------------------------------------------------------
// MBConv
// ---------------------------------------------------------------------------

MaxVitMBConvImpl::MaxVitMBConvImpl(const MaxVitMBConvOptions& o, const InitPolicy& policy)
    : LayerImpl("MBConv"), options_(o) {
  require_positive("MaxVitMBConv", "in_channels", o.in_channels());
  require_positive("MaxVitMBConv", "out_channels", o.out_channels());
  require_probability("MaxVitMBConv", "p_stochastic_dropout", o.p_stochastic_dropout());
  if (o.stride() != 1 && o.stride() != 2) {
    throw Error("MaxVitMBConv: stride must be 1 or 2, got " + std::to_string(o.stride()));
  }
  if (!o.norm() || !o.activation()) throw Error("MaxVitMBConv: norm and activation must not be empty");
  // int(out_channels * ratio), as Python truncates.
  const auto mid = static_cast<int64_t>(static_cast<double>(o.out_channels()) * o.expansion_ratio());
  const auto sqz = static_cast<int64_t>(static_cast<double>(o.out_channels()) * o.squeeze_ratio());
  require_positive("MaxVitMBConv", "out_channels * expansion_ratio", mid);
  require_positive("MaxVitMBConv", "out_channels * squeeze_ratio", sqz);

  // Python's attribute order: proj, stochastic_depth, layers.
  if (o.stride() != 1 || o.in_channels() != o.out_channels()) {
    Sequential shortcut;
    if (o.stride() == 2) shortcut->push_back(AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1)));
    shortcut->push_back(Conv2d(Conv2dOptions(o.in_channels(), o.out_channels(), 1), policy));
    proj = shortcut.ptr();
  } else {
    proj = Identity().ptr();
  }
  register_module("proj", proj);
  if (o.p_stochastic_dropout() != 0.0) {
    stochastic_depth = StochasticDepth(o.p_stochastic_dropout(), "row").ptr();
  } else {
    stochastic_depth = Identity().ptr();
  }
  register_module("stochastic_depth", stochastic_depth);

  Sequential branch;
  branch->push_back("pre_norm", o.norm()(o.in_channels(), policy));
  branch->push_back("conv_a", Conv2dNormActivation(Conv2dNormActivationOptions(o.in_channels(), mid, 1)
                                                       .padding(torch::ExpandingArray<2>(0))
                                                       .norm(o.norm())
                                                       .activation(o.activation()),
                                                   policy));
  branch->push_back("conv_b", Conv2dNormActivation(Conv2dNormActivationOptions(mid, mid, 3)
                                                       .stride(o.stride())
                                                       .padding(torch::ExpandingArray<2>(1))
                                                       .groups(mid)
                                                       .norm(o.norm())
                                                       .activation(o.activation()),
                                                   policy));
  branch->push_back("squeeze_excitation",
                    SqueezeExcitation(SqueezeExcitationOptions(mid, sqz).activation(activation_factory<SiLU>()),
                                      policy));
  branch->push_back("conv_c", Conv2d(Conv2dOptions(mid, o.out_channels(), 1), policy));
  layers = register_module("layers", branch);
}

at::Tensor MaxVitMBConvImpl::forward(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options_.in_channels()) {
    throw Error("MaxVitMBConv: expected an N x " + std::to_string(options_.in_channels()) +
                " x H x W input, got shape " + shape_str(x.sizes()));
  }
  at::Tensor res = proj->forward(x);
  return res + stochastic_depth->forward(layers->forward(x));
}

// ---------------------------------------------------------------------------
// RelativePositionalMultiHeadAttention
// ---------------------------------------------------------------------------

RelativePositionalMultiHeadAttentionImpl::RelativePositionalMultiHeadAttentionImpl(
    int64_t feat_dim, int64_t head_dim, int64_t max_seq_len, const InitPolicy& policy)
    : LayerImpl("RelativePositionalMultiHeadAttention"),
      feat_dim_(feat_dim),
      head_dim_(head_dim),
      n_heads_(0),
      size_(0),
      max_seq_len_(max_seq_len) {
  const std::string who = name();
  require_positive(who, "feat_dim", feat_dim);
  require_positive(who, "head_dim", head_dim);
  require_positive(who, "max_seq_len", max_seq_len);
  if (feat_dim % head_dim != 0) {
    throw Error(who + ": feat_dim: " + std::to_string(feat_dim) +
                " must be divisible by head_dim: " + std::to_string(head_dim));
  }
  n_heads_ = feat_dim / head_dim;
  size_ = static_cast<int64_t>(std::sqrt(static_cast<double>(max_seq_len)));
  while (size_ * size_ > max_seq_len) --size_;
  while ((size_ + 1) * (size_ + 1) <= max_seq_len) ++size_;
  if (size_ * size_ != max_seq_len) {
    throw Error(who + ": max_seq_len must be a square (partition_size^2), got " +
                std::to_string(max_seq_len));
  }
  to_qkv = register_module("to_qkv", Linear(LinearOptions(feat_dim, n_heads_ * head_dim * 3), policy));
  merge = register_module("merge", Linear(LinearOptions(head_dim * n_heads_, feat_dim), policy));
  relative_position_bias_table = register_parameter(
      "relative_position_bias_table",
      new_parameter({(2 * size_ - 1) * (2 * size_ - 1), n_heads_}, ParamInit::trunc_normal(0.0, 0.02),
                    policy));
  relative_position_index =
      register_buffer("relative_position_index", make_relative_position_index(size_, size_));
}

at::Tensor RelativePositionalMultiHeadAttentionImpl::relative_positional_bias() const {
  return relative_position_bias_table.index_select(0, relative_position_index.view(-1))
      .view({max_seq_len_, max_seq_len_, -1})
      .permute({2, 0, 1})
      .contiguous()
      .unsqueeze(0);
}

at::Tensor RelativePositionalMultiHeadAttentionImpl::forward(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(2) != max_seq_len_ || x.size(3) != feat_dim_) {
    throw Error(name() + ": expected input of shape [B, G, " + std::to_string(max_seq_len_) + ", " +
                std::to_string(feat_dim_) + "], got " + shape_str(x.sizes()));
  }
  const int64_t b = x.size(0), g = x.size(1), p = x.size(2), d = x.size(3);
  const auto chunks = to_qkv->forward(x).chunk(3, -1);
  auto heads = [&](const at::Tensor& t) {
    return t.reshape({b, g, p, n_heads_, head_dim_}).permute({0, 1, 3, 2, 4});
  };
  const at::Tensor q = heads(chunks[0]);
  const at::Tensor k = heads(chunks[1]) * std::pow(static_cast<double>(feat_dim_), -0.5);
  const at::Tensor v = heads(chunks[2]);
  const at::Tensor attn =
      at::softmax(attention_matmul(*this, q, k.transpose(-2, -1)) + relative_positional_bias(), -1);
  const at::Tensor out = attention_matmul(*this, attn, v).permute({0, 1, 3, 2, 4}).reshape({b, g, p, d});
  return merge->forward(out);
}

// ---------------------------------------------------------------------------
// PartitionAttentionLayer
// ---------------------------------------------------------------------------

PartitionAttentionLayerImpl::PartitionAttentionLayerImpl(const PartitionAttentionOptions& o,
                                                         const InitPolicy& policy)
    : LayerImpl("PartitionAttentionLayer"), options_(o) {
  const std::string who = name();
  require_positive(who, "in_channels", o.in_channels());
  require_positive(who, "partition_size", o.partition_size());
  require_positive(who, "mlp_ratio", o.mlp_ratio());
  require_positive(who, "grid height", o.grid_size()[0]);
  require_positive(who, "grid width", o.grid_size()[1]);
  if (o.partition_type() != "window" && o.partition_type() != "grid") {
    throw Error(who + ": partition_type must be either 'grid' or 'window', got '" + o.partition_type() + "'");
  }
  const int64_t n_partitions = o.grid_size()[0] / o.partition_size();
  p_ = o.partition_type() == "window" ? o.partition_size() : n_partitions;
  if (p_ <= 0 || o.grid_size()[0] % p_ != 0 || o.grid_size()[1] % p_ != 0) {
    throw Error(who + ": grid size must be divisible by partition size. Got grid size of " +
                pair_str(o.grid_size()) + " and partition size of " + std::to_string(p_));
  }
  const int64_t c = o.in_channels();
  Sequential attn;
  attn->push_back(LayerNorm(LayerNormOptions({c}).eps(o.norm_eps()), policy));
  attn->push_back(RelativePositionalMultiHeadAttention(c, o.head_dim(), o.partition_size() * o.partition_size(),
                                                       policy));
  attn->push_back(Dropout(o.attention_dropout()));
  attn_layer = register_module("attn_layer", attn);
  Sequential mlp;
  mlp->push_back(LayerNorm(LayerNormOptions({c}).eps(o.norm_eps()), policy));
  mlp->push_back(Linear(LinearOptions(c, c * o.mlp_ratio()), policy));
  mlp->push_back(GELU());
  mlp->push_back(Linear(LinearOptions(c * o.mlp_ratio(), c), policy));
  mlp->push_back(Dropout(o.mlp_dropout()));
  mlp_layer = register_module("mlp_layer", mlp);
  stochastic_dropout = register_module("stochastic_dropout", StochasticDepth(o.p_stochastic_dropout(), "row"));
}

at::Tensor PartitionAttentionLayerImpl::forward(const at::Tensor& input) {
  const auto& grid = options_.grid_size();
  if (input.dim() != 4 || input.size(1) != options_.in_channels() || input.size(2) != grid[0] ||
      input.size(3) != grid[1]) {
    throw Error(name() + " (" + options_.partition_type() + "): expected input of shape [B, " +
                std::to_string(options_.in_channels()) + ", " + std::to_string(grid[0]) + ", " +
                std::to_string(grid[1]) + "], got " + shape_str(input.sizes()));
  }
  const bool swap = options_.partition_type() == "grid";
  const int64_t gh = grid[0] / p_, gw = grid[1] / p_;
  at::Tensor x = window_partition(input, p_);
  if (swap) x = x.swapaxes(-2, -3);
  x = x + stochastic_dropout->forward(attn_layer->forward(x));
  x = x + stochastic_dropout->forward(mlp_layer->forward(x));
  if (swap) x = x.swapaxes(-2, -3);
  return window_departition(x, p_, gh, gw);
}

// ---------------------------------------------------------------------------
// MaxVitLayer, MaxVitBlock
// ---------------------------------------------------------------------------

MaxVitLayerImpl::MaxVitLayerImpl(MaxVitMBConv mbconv, PartitionAttentionLayer window_attention,
                                 PartitionAttentionLayer grid_attention)
    : LayerImpl("MaxVitLayer") {
  Sequential seq;
  seq->push_back("MBconv", mbconv);
  seq->push_back("window_attention", window_attention);
  seq->push_back("grid_attention", grid_attention);
  layers = register_module("layers", seq);
}

at::Tensor MaxVitLayerImpl::forward(const at::Tensor& x) { return layers->forward(x); }

MaxVitBlockImpl::MaxVitBlockImpl(MaxVitSize grid_size)
    : LayerImpl("MaxVitBlock"), grid_size_(grid_size) {
  layers = register_module("layers", Sequential());
}

at::Tensor MaxVitBlockImpl::forward(const at::Tensor& x) { return layers->forward(x); }

// ---------------------------------------------------------------------------
// MaxVit
// ---------------------------------------------------------------------------

MaxVitImpl::MaxVitImpl(const MaxVitOptions& o) : options_(o) {
  const std::string who = "MaxVit";
  require_positive(who, "input height", o.input_size()[0]);
  require_positive(who, "input width", o.input_size()[1]);
  require_positive(who, "stem_channels", o.stem_channels());
  require_positive(who, "partition_size", o.partition_size());
  require_positive(who, "head_dim", o.head_dim());
  require_positive(who, "num_classes", o.num_classes());
  require_probability(who, "stochastic_depth_prob", o.stochastic_depth_prob());
  const auto& channels = o.block_channels();
  const auto& depths = o.block_layers();
  if (channels.empty() || channels.size() != depths.size()) {
    throw Error(who + ": block_channels and block_layers must be non-empty lists of the same length, got " +
                shape_str(channels) + " and " + shape_str(depths));
  }
  for (int64_t d : depths) require_positive(who, "every block_layers entry", d);
  for (int64_t c : channels) require_positive(who, "every block_channels entry", c);

  // _make_block_input_shapes: every block's input must split into partitions.
  std::vector<MaxVitSize> block_inputs;
  MaxVitSize s = halved(o.input_size());
  for (std::size_t i = 0; i < channels.size(); ++i) {
    s = halved(s);
    block_inputs.push_back(s);
  }
  for (std::size_t i = 0; i < block_inputs.size(); ++i) {
    if (block_inputs[i][0] % o.partition_size() != 0 || block_inputs[i][1] % o.partition_size() != 0) {
      std::string all;
      for (const auto& b : block_inputs) all += (all.empty() ? "" : ", ") + pair_str(b);
      throw Error(who + ": input size " + pair_str(block_inputs[i]) + " of block " + std::to_string(i) +
                  " is not divisible by partition size " + std::to_string(o.partition_size()) +
                  " (input_size " + pair_str(o.input_size()) + " gives block input sizes [" + all +
                  "]); choose another partition size or input size");
    }
  }

  const InitPolicy init = maxvit_init(o.init_weights());
  const NormFactory bn = batch_norm2d_factory(1e-3, 0.99);
  const ActivationFactory gelu = activation_factory<GELU>();

  Sequential stem_layers;
  stem_layers->push_back(Conv2dNormActivation(
      Conv2dNormActivationOptions(3, o.stem_channels(), 3).stride(2).norm(bn).activation(gelu).bias(false),
      init));
  stem_layers->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(o.stem_channels(), o.stem_channels(), 3)
                                                  .norm(nullptr)
                                                  .activation(nullptr)
                                                  .bias(true),
                                              init));
  stem = register_module("stem", stem_layers);

  // np.linspace(0, stochastic_depth_prob, total): i * step, the last exactly the end.
  const int64_t total = std::accumulate(depths.begin(), depths.end(), int64_t{0});
  std::vector<double> p_stochastic(static_cast<std::size_t>(total), 0.0);
  if (total > 1) {
    const double step = o.stochastic_depth_prob() / static_cast<double>(total - 1);
    for (int64_t i = 0; i < total; ++i) p_stochastic[i] = static_cast<double>(i) * step;
    p_stochastic.back() = o.stochastic_depth_prob();
  }

  Sequential block_list;
  MaxVitSize grid = halved(o.input_size());
  std::size_t p_idx = 0;
  for (std::size_t b = 0; b < channels.size(); ++b) {
    const int64_t in_channels = b == 0 ? o.stem_channels() : channels[b - 1];
    grid = halved(grid);
    MaxVitBlock block(grid);
    for (int64_t i = 0; i < depths[b]; ++i) {
      const double p = p_stochastic[p_idx++];
      auto attention = [&](const char* type) {
        return PartitionAttentionLayer(PartitionAttentionOptions(channels[b], o.head_dim(), o.partition_size(),
                                                                 type, grid)
                                           .mlp_ratio(o.mlp_ratio())
                                           .attention_dropout(o.attention_dropout())
                                           .mlp_dropout(o.mlp_dropout())
                                           .p_stochastic_dropout(p),
                                       init);
      };
      MaxVitMBConv mbconv(MaxVitMBConvOptions(i == 0 ? in_channels : channels[b], channels[b], o.expansion_ratio(),
                                  o.squeeze_ratio(), i == 0 ? 2 : 1)
                        .p_stochastic_dropout(p)
                        .norm(bn)
                        .activation(gelu),
                    init);
      // MaxVitLayer builds MBconv, then the window, then the grid attention.
      PartitionAttentionLayer window = attention("window");
      PartitionAttentionLayer grid_attention = attention("grid");
      block->layers->push_back(MaxVitLayer(mbconv, window, grid_attention));
    }
    block_list->push_back(block);
  }
  blocks = register_module("blocks", block_list);

  const int64_t last = channels.back();
  Sequential head;
  head->push_back(AdaptiveAvgPool2d(1));
  head->push_back(Flatten());
  head->push_back(LayerNorm(LayerNormOptions({last}), init));
  head->push_back(Linear(LinearOptions(last, last), init));
  head->push_back(Tanh());
  head->push_back(Linear(LinearOptions(last, o.num_classes()).bias(false), init));
  classifier = register_module("classifier", head);
}

at::Tensor MaxVitImpl::forward(at::Tensor x) {
  const auto& s = options_.input_size();
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != s[0] || x.size(3) != s[1]) {
    throw Error("MaxVit: expected input of shape [N, 3, " + std::to_string(s[0]) + ", " +
                std::to_string(s[1]) + "] (the input_size it was built for), got " + shape_str(x.sizes()));
  }
  x = stem->forward(x);
  x = blocks->forward(x);
  return classifier->forward(x);
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

namespace {

int64_t size_value(const nlohmann::json& v, const std::string& arch, const std::string& key) {
  if (v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= (int64_t{1} << 20)) {
    return v.get<int64_t>();
  }
  throw Error(arch + ": extra argument '" + key + "' must hold positive integers, got " + v.dump());
}

MaxVitSize input_size_of(const ArchArgs& args, const std::string& arch) {
  if (args.extra.is_object() && args.extra.contains("input_size")) {
    const auto& v = args.extra.at("input_size");
    if (v.is_array() && v.size() == 2) {
      return {size_value(v[0], arch, "input_size"), size_value(v[1], arch, "input_size")};
    }
    if (v.is_number()) {
      const int64_t side = size_value(v, arch, "input_size");
      return {side, side};
    }
    throw Error(arch + ": extra argument 'input_size' must be [height, width], got " + v.dump());
  }
  if (args.extra.is_object() && args.extra.contains("image_size")) {
    const int64_t side = size_value(args.extra.at("image_size"), arch, "image_size");
    return {side, side};
  }
  return {224, 224};
}

}  // namespace

MaxVit maxvit_t(const ArchArgs& args) {
  const std::string arch = "maxvit_t";
  check_extra_keys(args, arch,
                   {"image_size", "input_size", "mlp_dropout", "attention_dropout", "stochastic_depth_prob"});
  return MaxVit(MaxVitOptions(input_size_of(args, arch), 64, 7, {64, 128, 256, 512}, {2, 2, 5, 2}, 32,
                              extra_number(args, arch, "stochastic_depth_prob", 0.2))
                    .mlp_dropout(extra_number(args, arch, "mlp_dropout", 0.0))
                    .attention_dropout(extra_number(args, arch, "attention_dropout", 0.0))
                    .num_classes(args.num_classes)
                    .init_weights(args.init_weights));
}

}  // namespace modelzoo::models
