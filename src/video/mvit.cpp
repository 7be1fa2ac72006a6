// MViT v1-B and v2-S (torchvision.models.video.mvit).
#include <algorithm>
#include <array>
#include <cmath>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/video/models.h"

namespace modelzoo::video {
namespace {

namespace mm = modelzoo::models;
using THW = std::array<int64_t, 3>;

int64_t prod(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

torch::ExpandingArray<3> ea(const std::vector<int64_t>& v) { return torch::ExpandingArray<3>(at::IntArrayRef(v)); }

// MViT.__init__'s loop: trunc_normal_(std=0.02) Linear weights with zero
// biases, ones/zeros LayerNorm; Conv3d keeps nn.Conv3d's default.
mm::InitPolicy mvit_init(bool enabled) {
  mm::InitPolicy p = mm::InitPolicy::torch_default(enabled);
  p.linear_weight = mm::ParamInit::trunc_normal(0.0, 0.02);
  p.linear_bias = mm::ParamInit::zeros();
  return p;
}

mm::LayerNorm layer_norm(int64_t c, const mm::InitPolicy& init) {
  return mm::LayerNorm(mm::LayerNormOptions({c}).eps(1e-6), init);
}

// torchvision's Pool: pools the tokens (all but the class token) of
// [B, heads,] tokens, C as a T x H x W volume, then the optional norm.
class PoolImpl : public torch::nn::Module {
 public:
  PoolImpl(mm::LayerPtr pool, mm::LayerPtr norm) : torch::nn::Module("Pool") {
    pool_ = register_module("pool", std::move(pool));
    if (norm) {
      norm_act_ = register_module("norm_act", mm::Sequential());
      norm_act_->push_back(std::move(norm));
    }
  }
  std::pair<at::Tensor, THW> forward(at::Tensor x, const THW& thw) {
    const bool squeezed = x.dim() == 3;
    if (squeezed) x = x.unsqueeze(1);
    const at::Tensor cls = x.narrow(2, 0, 1);
    at::Tensor rest = x.narrow(2, 1, x.size(2) - 1).transpose(2, 3);
    const int64_t b = rest.size(0), n = rest.size(1), c = rest.size(2);
    rest = rest.reshape({b * n, c, thw[0], thw[1], thw[2]}).contiguous();
    rest = pool_->forward(rest);
    const THW out_thw = {rest.size(2), rest.size(3), rest.size(4)};
    rest = rest.reshape({b, n, c, -1}).transpose(2, 3);
    x = at::cat({cls, rest}, 2);
    if (norm_act_) x = norm_act_->forward(x);
    if (squeezed) x = x.squeeze(1);
    return {x, out_thw};
  }

 private:
  mm::LayerPtr pool_;
  mm::Sequential norm_act_{nullptr};
};
TORCH_MODULE(Pool);

at::Tensor interpolate_rel(const at::Tensor& embedding, int64_t d) {
  if (embedding.size(0) == d) return embedding;
  return at::upsample_linear1d(embedding.permute({1, 0}).unsqueeze(0), {d}, false).squeeze(0).permute({1, 0});
}

at::Tensor rel_distance(int64_t q, int64_t k) {
  const double q_ratio = std::max(static_cast<double>(k) / q, 1.0);
  const double k_ratio = std::max(static_cast<double>(q) / k, 1.0);
  return (at::arange(q).unsqueeze(1) * q_ratio - (at::arange(k).unsqueeze(0) + (1.0 - k)) * k_ratio).to(at::kLong);
}

// torchvision's _add_rel_pos: decomposed relative position terms added to
// the attention logits of the non-class tokens.
void add_rel_pos(at::Tensor& attn, const at::Tensor& q, const THW& q_thw, const THW& k_thw, const at::Tensor& rel_h,
                 const at::Tensor& rel_w, const at::Tensor& rel_t) {
  const int64_t q_t = q_thw[0], q_h = q_thw[1], q_w = q_thw[2];
  const int64_t k_t = k_thw[0], k_h = k_thw[1], k_w = k_thw[2];
  const at::Tensor rh = interpolate_rel(rel_h, 2 * std::max(q_h, k_h) - 1).index({rel_distance(q_h, k_h)});
  const at::Tensor rw = interpolate_rel(rel_w, 2 * std::max(q_w, k_w) - 1).index({rel_distance(q_w, k_w)});
  const at::Tensor rt = interpolate_rel(rel_t, 2 * std::max(q_t, k_t) - 1).index({rel_distance(q_t, k_t)});
  const int64_t b = q.size(0), heads = q.size(1), dim = q.size(3);
  at::Tensor r_q = q.narrow(2, 1, q.size(2) - 1).reshape({b, heads, q_t, q_h, q_w, dim});
  const at::Tensor rel_h_q = at::einsum("bythwc,hkc->bythwk", {r_q, rh});
  const at::Tensor rel_w_q = at::einsum("bythwc,wkc->bythwk", {r_q, rw});
  r_q = r_q.permute({2, 0, 1, 3, 4, 5}).reshape({q_t, b * heads * q_h * q_w, dim});
  at::Tensor rel_q_t = at::matmul(r_q, rt.transpose(1, 2)).transpose(0, 1);
  rel_q_t = rel_q_t.view({b, heads, q_h, q_w, q_t, k_t}).permute({0, 1, 4, 2, 3, 5});
  const at::Tensor rel_pos = (rel_h_q.unsqueeze(5).unsqueeze(7) + rel_w_q.unsqueeze(5).unsqueeze(6) +
                              rel_q_t.unsqueeze(6).unsqueeze(7))
                                 .reshape({b, heads, q_t * q_h * q_w, k_t * k_h * k_w});
  attn.narrow(2, 1, attn.size(2) - 1).narrow(3, 1, attn.size(3) - 1).add_(rel_pos);
}

// torchvision's MultiscaleAttention.
class MultiscaleAttentionImpl : public torch::nn::Module {
 public:
  MultiscaleAttentionImpl(const THW& input_size, int64_t embed_dim, int64_t output_dim, const MViTBlockConfig& cnf,
                          const MViTOptions& o, const mm::InitPolicy& init)
      : torch::nn::Module("MultiscaleAttention"),
        output_dim_(output_dim),
        num_heads_(cnf.num_heads),
        head_dim_(output_dim / cnf.num_heads),
        residual_pool_(o.residual_pool),
        residual_with_cls_embed_(o.residual_with_cls_embed) {
    if (o.rel_pos_embed) {
      // Parameters of the module itself come before its children in state_dict().
      const int64_t size = std::max(input_size[1], input_size[2]);
      const int64_t q_size = cnf.stride_q.empty() ? size : size / cnf.stride_q[1];
      const int64_t kv_size = cnf.stride_kv.empty() ? size : size / cnf.stride_kv[1];
      const int64_t spatial = 2 * std::max(q_size, kv_size) - 1, temporal = 2 * input_size[0] - 1;
      const auto tn = mm::ParamInit::trunc_normal(0.0, 0.02);
      rel_pos_h = register_parameter("rel_pos_h", mm::new_parameter({spatial, head_dim_}, tn, init));
      rel_pos_w = register_parameter("rel_pos_w", mm::new_parameter({spatial, head_dim_}, tn, init));
      rel_pos_t = register_parameter("rel_pos_t", mm::new_parameter({temporal, head_dim_}, tn, init));
    }
    qkv = register_module("qkv", mm::Linear(mm::LinearOptions(embed_dim, 3 * output_dim), init));
    project = register_module("project", mm::Sequential());
    project->push_back(mm::Linear(mm::LinearOptions(output_dim, output_dim), init));
    auto make_pool = [&](const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride) {
      std::vector<int64_t> padding;
      for (int64_t k : kernel) padding.push_back(k / 2);
      Conv3d conv(Conv3dOptions(head_dim_, head_dim_, ea(kernel))
                      .stride(ea(stride))
                      .padding(ea(padding))
                      .groups(head_dim_)
                      .bias(false),
                  init);
      return Pool(conv.ptr(), layer_norm(head_dim_, init).ptr());
    };
    if (prod(cnf.kernel_q) > 1 || prod(cnf.stride_q) > 1) pool_q = register_module("pool_q", make_pool(cnf.kernel_q, cnf.stride_q));
    if (prod(cnf.kernel_kv) > 1 || prod(cnf.stride_kv) > 1) {
      pool_k = register_module("pool_k", make_pool(cnf.kernel_kv, cnf.stride_kv));
      pool_v = register_module("pool_v", make_pool(cnf.kernel_kv, cnf.stride_kv));
    }
  }

  std::pair<at::Tensor, THW> forward(const at::Tensor& x, THW thw) {
    const int64_t b = x.size(0), n = x.size(1);
    auto qkv_parts = qkv->forward(x).reshape({b, n, 3, num_heads_, head_dim_}).transpose(1, 3).unbind(2);
    at::Tensor q = qkv_parts[0], k = qkv_parts[1], v = qkv_parts[2];
    THW k_thw = thw;
    if (pool_k) std::tie(k, k_thw) = pool_k->forward(k, thw);
    if (pool_v) v = pool_v->forward(v, thw).first;
    if (pool_q) std::tie(q, thw) = pool_q->forward(q, thw);
    at::Tensor attn = at::matmul((1.0 / std::sqrt(static_cast<double>(head_dim_))) * q, k.transpose(2, 3));
    if (rel_pos_h.defined()) add_rel_pos(attn, q, thw, k_thw, rel_pos_h, rel_pos_w, rel_pos_t);
    attn = attn.softmax(-1);
    at::Tensor out = at::matmul(attn, v);
    if (residual_pool_) {
      if (residual_with_cls_embed_) {
        out.add_(q);
      } else {
        out.narrow(2, 1, out.size(2) - 1).add_(q.narrow(2, 1, q.size(2) - 1));
      }
    }
    out = out.transpose(1, 2).reshape({b, -1, output_dim_});
    return {project->forward(out), thw};
  }

  at::Tensor rel_pos_h, rel_pos_w, rel_pos_t;
  mm::Linear qkv{nullptr};
  mm::Sequential project{nullptr};
  Pool pool_q{nullptr}, pool_k{nullptr}, pool_v{nullptr};

 private:
  int64_t output_dim_, num_heads_, head_dim_;
  bool residual_pool_, residual_with_cls_embed_;
};
TORCH_MODULE(MultiscaleAttention);

// torchvision's MultiscaleBlock.
class MultiscaleBlockImpl : public torch::nn::Module {
 public:
  MultiscaleBlockImpl(const THW& input_size, const MViTBlockConfig& cnf, const MViTOptions& o,
                      const mm::InitPolicy& init)
      : torch::nn::Module("MultiscaleBlock"), proj_after_attn_(o.proj_after_attn) {
    if (prod(cnf.stride_q) > 1) {
      std::vector<int64_t> kernel, padding;
      for (int64_t s : cnf.stride_q) kernel.push_back(s > 1 ? s + 1 : s);
      for (int64_t k : kernel) padding.push_back(k / 2);
      pool_skip = register_module(
          "pool_skip", Pool(MaxPool3d(Pool3dOptions(ea(kernel)).stride(ea(cnf.stride_q)).padding(ea(padding))).ptr(), nullptr));
    }
    const int64_t attn_dim = o.proj_after_attn ? cnf.output_channels : cnf.input_channels;
    norm1 = register_module("norm1", layer_norm(cnf.input_channels, init));
    norm2 = register_module("norm2", layer_norm(attn_dim, init));
    attn = register_module("attn", MultiscaleAttention(input_size, cnf.input_channels, attn_dim, cnf, o, init));
    mlp = register_module("mlp", mm::Sequential());
    mlp->push_back(mm::Linear(mm::LinearOptions(attn_dim, 4 * attn_dim), init));
    mlp->push_back(mm::GELU());
    mlp->push_back(mm::Dropout(0.0));
    mlp->push_back(mm::Linear(mm::LinearOptions(4 * attn_dim, cnf.output_channels), init));
    mlp->push_back(mm::Dropout(0.0));
    if (cnf.input_channels != cnf.output_channels) {
      project = register_module("project", mm::Linear(mm::LinearOptions(cnf.input_channels, cnf.output_channels), init));
    }
  }

  std::pair<at::Tensor, THW> forward(at::Tensor x, const THW& thw) {
    const at::Tensor x_norm1 = norm1->forward(x);
    auto [x_attn, thw_new] = attn->forward(x_norm1, thw);
    if (project && proj_after_attn_) x = project->forward(x_norm1);
    const at::Tensor x_skip = pool_skip ? pool_skip->forward(x, thw).first : x;
    x = x_skip + x_attn;
    const at::Tensor x_norm2 = norm2->forward(x);
    const at::Tensor x_proj = (project && !proj_after_attn_) ? project->forward(x_norm2) : x;
    return {x_proj + mlp->forward(x_norm2), thw_new};
  }

  Pool pool_skip{nullptr};
  mm::LayerNorm norm1{nullptr}, norm2{nullptr};
  MultiscaleAttention attn{nullptr};
  mm::Sequential mlp{nullptr};
  mm::Linear project{nullptr};

 private:
  bool proj_after_attn_;
};
TORCH_MODULE(MultiscaleBlock);

// torchvision's PositionalEncoding: the class token, plus (v1) absolute
// spatial, temporal and class positions.
class PositionalEncodingImpl : public torch::nn::Module {
 public:
  PositionalEncodingImpl(int64_t embed, const THW& size, bool rel_pos_embed, const mm::InitPolicy& init)
      : torch::nn::Module("PositionalEncoding"), size_(size) {
    const auto tn = mm::ParamInit::trunc_normal(0.0, 0.02);
    class_token = register_parameter("class_token", mm::new_parameter({embed}, tn, init));
    if (!rel_pos_embed) {
      spatial_pos = register_parameter("spatial_pos", mm::new_parameter({size[1] * size[2], embed}, tn, init));
      temporal_pos = register_parameter("temporal_pos", mm::new_parameter({size[0], embed}, tn, init));
      class_pos = register_parameter("class_pos", mm::new_parameter({embed}, tn, init));
    }
  }
  at::Tensor forward(const at::Tensor& tokens) {
    const at::Tensor cls = class_token.expand({tokens.size(0), -1}).unsqueeze(1);
    at::Tensor x = at::cat({cls, tokens}, 1);
    if (spatial_pos.defined()) {
      const int64_t hw = spatial_pos.size(0), embed = spatial_pos.size(1);
      at::Tensor pos = at::repeat_interleave(temporal_pos, hw, 0);
      pos.add_(spatial_pos.unsqueeze(0).expand({size_[0], -1, -1}).reshape({-1, embed}));
      pos = at::cat({class_pos.unsqueeze(0), pos}, 0).unsqueeze(0);
      x.add_(pos);
    }
    return x;
  }
  const THW& size() const { return size_; }

  at::Tensor class_token, spatial_pos, temporal_pos, class_pos;

 private:
  THW size_;
};
TORCH_MODULE(PositionalEncoding);

std::vector<MViTBlockConfig> table(const std::vector<int64_t>& heads, const std::vector<int64_t>& in,
                                   const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& kq,
                                   const std::vector<std::vector<int64_t>>& sq, const std::vector<std::vector<int64_t>>& skv) {
  std::vector<MViTBlockConfig> t;
  for (std::size_t i = 0; i < heads.size(); ++i) t.push_back({heads[i], in[i], out[i], kq[i], {3, 3, 3}, sq[i], skv[i]});
  return t;
}

const std::vector<int64_t> kHeads = {1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8};
const std::vector<std::vector<int64_t>> kStrideKV = {{1, 8, 8}, {1, 4, 4}, {1, 4, 4}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2},
                                                     {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2},
                                                     {1, 2, 2}, {1, 2, 2}, {1, 1, 1}, {1, 1, 1}};

VideoClassifier make_mvit(const char* arch, MViTOptions o, const mm::ArchArgs& args) {
  mm::check_extra_keys(args, arch, {"image_size"});
  o.num_classes = args.num_classes;
  o.init_weights = args.init_weights;
  return VideoClassifier(std::make_shared<MViTImpl>(o));
}

}  // namespace

MViTImpl::MViTImpl(const MViTOptions& o) : VideoClassifierImpl("MViT"), options_(o) {
  if (o.blocks.empty()) throw Error("MViT: the block table is empty");
  if (o.num_classes < 1) throw Error("MViT: num_classes must be at least 1, got " + std::to_string(o.num_classes));
  const mm::InitPolicy init = mvit_init(o.init_weights);
  const int64_t c0 = o.blocks.front().input_channels;
  conv_proj_ = register_module(
      "conv_proj", Conv3d(Conv3dOptions(3, c0, {3, 7, 7}).stride({2, 4, 4}).padding({1, 3, 3}).bias(true), init).ptr());
  THW input_size = {o.temporal_size / 2, o.spatial_size / 4, o.spatial_size / 4};
  pos_encoding_ = register_module("pos_encoding", PositionalEncoding(c0, input_size, o.rel_pos_embed, init).ptr());
  auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>("ModuleList"));
  for (std::size_t i = 0; i < o.blocks.size(); ++i) {
    const auto& cnf = o.blocks[i];
    blocks_.push_back(blocks->register_module(std::to_string(i), MultiscaleBlock(input_size, cnf, o, init).ptr()));
    if (!cnf.stride_q.empty()) {
      for (int d = 0; d < 3; ++d) input_size[d] /= cnf.stride_q[d];
    }
  }
  const int64_t last = o.blocks.back().output_channels;
  norm_ = register_module("norm", layer_norm(last, init).ptr());
  head_ = register_module("head", mm::Sequential());
  head_->push_back(mm::Dropout(0.5));
  head_->push_back(mm::Linear(mm::LinearOptions(last, o.num_classes), init));
}

at::Tensor MViTImpl::forward(const at::Tensor& clips) {
  if (clips.dim() != 5 || clips.size(1) != 3 || clips.size(2) != options_.temporal_size ||
      clips.size(3) != options_.spatial_size || clips.size(4) != options_.spatial_size) {
    std::string shape = "[";
    for (int64_t i = 0; i < clips.dim(); ++i) shape += (i ? ", " : "") + std::to_string(clips.size(i));
    throw Error("MViT: expected N x 3 x " + std::to_string(options_.temporal_size) + " x " +
                std::to_string(options_.spatial_size) + " x " + std::to_string(options_.spatial_size) +
                " clips, got shape " + shape + "]");
  }
  at::Tensor x = conv_proj_->forward(clips).flatten(2).transpose(1, 2);
  auto& pe = static_cast<PositionalEncodingImpl&>(*pos_encoding_);
  x = pe.forward(x);
  THW thw = pe.size();
  for (auto& block : blocks_) std::tie(x, thw) = static_cast<MultiscaleBlockImpl&>(*block).forward(x, thw);
  x = norm_->forward(x).select(1, 0);
  return head_->forward(x);
}

VideoClassifier mvit_v1_b(const models::ArchArgs& args) {
  MViTOptions o;
  o.blocks = table(kHeads, {96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768},
                   {192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768, 768},
                   {{}, {3, 3, 3}, {}, {3, 3, 3}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {3, 3, 3}, {}},
                   {{}, {1, 2, 2}, {}, {1, 2, 2}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {1, 2, 2}, {}}, kStrideKV);
  return make_mvit("mvit_v1_b", o, args);
}

VideoClassifier mvit_v2_s(const models::ArchArgs& args) {
  MViTOptions o;
  std::vector<std::vector<int64_t>> kq(16, {3, 3, 3});
  std::vector<std::vector<int64_t>> sq(16, {1, 1, 1});
  sq[1] = sq[3] = sq[14] = {1, 2, 2};
  o.blocks = table(kHeads, {96, 96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768},
                   {96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768}, kq, sq, kStrideKV);
  o.residual_pool = true;
  o.rel_pos_embed = true;
  o.proj_after_attn = true;
  return make_mvit("mvit_v2_s", o, args);
}

}  // namespace modelzoo::video
