#include "modelzoo/optical_flow/raft.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::optical_flow {
namespace {

namespace mm = modelzoo::models;

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// FeatureEncoder's init: kaiming_normal_(fan_out, relu) convolution weights
// (biases keep nn.Conv2d's default), ones/zeros norm layers.
mm::InitPolicy encoder_init(bool enabled) {
  mm::InitPolicy p = mm::InitPolicy::torch_default(enabled);
  p.conv_weight = mm::ParamInit::kaiming_normal(mm::FanMode::FanOut, mm::Nonlinearity::ReLU);
  return p;
}

mm::NormFactory norm_factory(const std::string& kind) {
  if (kind == "instance") {
    return [](int64_t c, const mm::InitPolicy&) -> mm::LayerPtr { return InstanceNorm2d(c).ptr(); };
  }
  if (kind == "batch") return mm::batch_norm2d_factory();
  return nullptr;
}

// Conv2dNormActivation(in, out, kernel, stride, norm, bias=True[, no activation]).
mm::Conv2dNormActivation cna(int64_t in, int64_t out, int64_t k, int64_t stride, const mm::NormFactory& norm,
                             const mm::InitPolicy& init, bool activation = true) {
  mm::Conv2dNormActivationOptions o(in, out, k);
  o.stride(stride).bias(true).norm(norm);
  if (!activation) o.activation(nullptr);
  return mm::Conv2dNormActivation(o, init);
}

// ResidualBlock / BottleneckBlock: y = convnormrelu1..n(x); relu(downsample(x) + y).
class RaftBlockImpl : public mm::LayerImpl {
 public:
  RaftBlockImpl(bool bottleneck, int64_t in, int64_t out, int64_t stride, const mm::NormFactory& norm,
                const mm::InitPolicy& init)
      : mm::LayerImpl(bottleneck ? "BottleneckBlock" : "ResidualBlock") {
    if (bottleneck) {
      register_module("convnormrelu1", cna(in, out / 4, 1, 1, norm, init));
      register_module("convnormrelu2", cna(out / 4, out / 4, 3, stride, norm, init));
      register_module("convnormrelu3", cna(out / 4, out, 1, 1, norm, init));
      chain_ = {"convnormrelu1", "convnormrelu2", "convnormrelu3"};
    } else {
      register_module("convnormrelu1", cna(in, out, 3, stride, norm, init));
      register_module("convnormrelu2", cna(out, out, 3, 1, norm, init));
      chain_ = {"convnormrelu1", "convnormrelu2"};
    }
    // torchvision registers downsample after the convolutions (an Identity when stride 1).
    if (stride != 1) downsample_ = register_module("downsample", cna(in, out, 1, stride, norm, init, false));
  }
  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor y = x;
    for (const auto& name : chain_) y = std::dynamic_pointer_cast<mm::LayerImpl>(named_children()[name])->forward(y);
    const at::Tensor skip = downsample_ ? downsample_->forward(x) : x;
    return (skip + y).relu_();
  }

 private:
  std::vector<std::string> chain_;
  std::shared_ptr<mm::Conv2dNormActivationImpl> downsample_;
};
TORCH_MODULE(RaftBlock);

class FeatureEncoderImpl : public torch::nn::Module {
 public:
  FeatureEncoderImpl(bool bottleneck, const std::vector<int64_t>& layers, const std::string& norm_kind, bool init_weights)
      : torch::nn::Module("FeatureEncoder") {
    if (layers.size() != 5) throw Error("RAFT FeatureEncoder: expected 5 layer widths");
    const mm::InitPolicy init = encoder_init(init_weights);
    const mm::NormFactory norm = norm_factory(norm_kind);
    convnormrelu = register_module("convnormrelu", cna(3, layers[0], 7, 2, norm, init));
    const int64_t strides[3] = {1, 2, 2};
    for (int i = 0; i < 3; ++i) {
      mm::Sequential s;
      s->push_back(RaftBlock(bottleneck, layers[i], layers[i + 1], strides[i], norm, init));
      s->push_back(RaftBlock(bottleneck, layers[i + 1], layers[i + 1], 1, norm, init));
      stages.push_back(register_module("layer" + std::to_string(i + 1), s));
    }
    conv = register_module("conv", mm::Conv2d(mm::Conv2dOptions(layers[3], layers[4], 1), init));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = convnormrelu->forward(x);
    for (auto& s : stages) y = s->forward(y);
    return conv->forward(y);
  }
  mm::Conv2dNormActivation convnormrelu{nullptr};
  std::vector<mm::Sequential> stages;
  mm::Conv2d conv{nullptr};
};
TORCH_MODULE(FeatureEncoder);

class MotionEncoderImpl : public torch::nn::Module {
 public:
  MotionEncoderImpl(int64_t in_corr, const std::vector<int64_t>& corr_layers, const std::vector<int64_t>& flow_layers,
                    int64_t out_channels, const mm::InitPolicy& init)
      : torch::nn::Module("MotionEncoder") {
    convcorr1 = register_module("convcorr1", cna(in_corr, corr_layers[0], 1, 1, nullptr, init));
    if (corr_layers.size() == 2) convcorr2 = register_module("convcorr2", cna(corr_layers[0], corr_layers[1], 3, 1, nullptr, init));
    convflow1 = register_module("convflow1", cna(2, flow_layers[0], 7, 1, nullptr, init));
    convflow2 = register_module("convflow2", cna(flow_layers[0], flow_layers[1], 3, 1, nullptr, init));
    conv = register_module("conv", cna(corr_layers.back() + flow_layers.back(), out_channels - 2, 3, 1, nullptr, init));
  }
  at::Tensor forward(const at::Tensor& flow, const at::Tensor& corr_features) {
    at::Tensor corr = convcorr1->forward(corr_features);
    if (convcorr2) corr = convcorr2->forward(corr);
    const at::Tensor f = convflow2->forward(convflow1->forward(flow));
    return at::cat({conv->forward(at::cat({corr, f}, 1)), flow}, 1);
  }
  mm::Conv2dNormActivation convcorr1{nullptr}, convcorr2{nullptr}, convflow1{nullptr}, convflow2{nullptr}, conv{nullptr};
};
TORCH_MODULE(MotionEncoder);

class ConvGRUImpl : public torch::nn::Module {
 public:
  ConvGRUImpl(int64_t input, int64_t hidden, std::array<int64_t, 2> k, std::array<int64_t, 2> pad,
              const mm::InitPolicy& init)
      : torch::nn::Module("ConvGRU") {
    auto make = [&](const char* name) {
      return register_module(name, mm::Conv2d(mm::Conv2dOptions(hidden + input, hidden, {k[0], k[1]}).padding({pad[0], pad[1]}), init));
    };
    convz = make("convz");
    convr = make("convr");
    convq = make("convq");
  }
  at::Tensor forward(const at::Tensor& h, const at::Tensor& x) {
    const at::Tensor hx = at::cat({h, x}, 1);
    const at::Tensor z = at::sigmoid(convz->forward(hx));
    const at::Tensor r = at::sigmoid(convr->forward(hx));
    const at::Tensor q = at::tanh(convq->forward(at::cat({r * h, x}, 1)));
    return (1 - z) * h + z * q;
  }
  mm::Conv2d convz{nullptr}, convr{nullptr}, convq{nullptr};
};
TORCH_MODULE(ConvGRU);

class UpdateBlockImpl : public torch::nn::Module {
 public:
  UpdateBlockImpl(const RaftConfig& c, bool init_weights) : torch::nn::Module("UpdateBlock") {
    const mm::InitPolicy init = mm::InitPolicy::torch_default(init_weights);
    const int64_t corr_channels = c.corr_levels * (2 * c.corr_radius + 1) * (2 * c.corr_radius + 1);
    motion_encoder = register_module(
        "motion_encoder", MotionEncoder(corr_channels, c.motion_corr_layers, c.motion_flow_layers, c.motion_out_channels, init));
    recurrent = register_module("recurrent_block", std::make_shared<torch::nn::Module>("RecurrentBlock"));
    const int64_t input = c.motion_out_channels + (c.context_layers.back() - c.hidden_size);
    if (c.separable_gru) {
      gru1 = recurrent->register_module("convgru1", ConvGRU(input, c.hidden_size, std::array<int64_t, 2>{1, 5}, std::array<int64_t, 2>{0, 2}, init));
      gru2 = recurrent->register_module("convgru2", ConvGRU(input, c.hidden_size, std::array<int64_t, 2>{5, 1}, std::array<int64_t, 2>{2, 0}, init));
    } else {
      gru1 = recurrent->register_module("convgru1", ConvGRU(input, c.hidden_size, std::array<int64_t, 2>{3, 3}, std::array<int64_t, 2>{1, 1}, init));
    }
    flow_head = register_module("flow_head", std::make_shared<torch::nn::Module>("FlowHead"));
    head1 = flow_head->register_module("conv1", mm::Conv2d(mm::Conv2dOptions(c.hidden_size, c.flow_head_hidden, 3).padding(1), init));
    head2 = flow_head->register_module("conv2", mm::Conv2d(mm::Conv2dOptions(c.flow_head_hidden, 2, 3).padding(1), init));
  }
  // (hidden, delta_flow)
  std::pair<at::Tensor, at::Tensor> forward(at::Tensor hidden, const at::Tensor& context, const at::Tensor& corr,
                                            const at::Tensor& flow) {
    const at::Tensor x = at::cat({context, motion_encoder->forward(flow, corr)}, 1);
    hidden = gru1->forward(hidden, x);
    if (gru2) hidden = gru2->forward(hidden, x);
    return {hidden, head2->forward(head1->forward(hidden).relu())};
  }
  MotionEncoder motion_encoder{nullptr};
  std::shared_ptr<torch::nn::Module> recurrent, flow_head;
  ConvGRU gru1{nullptr}, gru2{nullptr};
  mm::Conv2d head1{nullptr}, head2{nullptr};
};
TORCH_MODULE(UpdateBlock);

class MaskPredictorImpl : public torch::nn::Module {
 public:
  MaskPredictorImpl(int64_t in, int64_t hidden, bool init_weights) : torch::nn::Module("MaskPredictor") {
    const mm::InitPolicy init = mm::InitPolicy::torch_default(init_weights);
    convrelu = register_module("convrelu", cna(in, hidden, 3, 1, nullptr, init));
    conv = register_module("conv", mm::Conv2d(mm::Conv2dOptions(hidden, 8 * 8 * 9, 1), init));
  }
  at::Tensor forward(const at::Tensor& x) { return 0.25 * conv->forward(convrelu->forward(x)); }
  mm::Conv2dNormActivation convrelu{nullptr};
  mm::Conv2d conv{nullptr};
};
TORCH_MODULE(MaskPredictor);

// torchvision's optical_flow._utils.grid_sample: absolute pixel coordinates.
at::Tensor grid_sample_abs(const at::Tensor& img, const at::Tensor& grid) {
  const int64_t h = img.size(-2), w = img.size(-1);
  auto parts = grid.split({1, 1}, -1);
  at::Tensor xg = 2 * parts[0] / (w - 1) - 1;
  at::Tensor yg = parts[1];
  if (h > 1) yg = 2 * yg / (h - 1) - 1;
  return at::grid_sampler(img, at::cat({xg, yg}, -1), /*bilinear*/ 0, /*zeros*/ 0, /*align_corners=*/true);
}

at::Tensor coords_grid(int64_t n, int64_t h, int64_t w) {
  auto mesh = at::meshgrid({at::arange(h), at::arange(w)}, "ij");
  return at::stack({mesh[1], mesh[0]}, 0).to(at::kFloat).unsqueeze(0).repeat({n, 1, 1, 1});
}

at::Tensor upsample_flow(const at::Tensor& flow, const at::Tensor& up_mask) {
  const int64_t n = flow.size(0), c = flow.size(1), h = flow.size(2), w = flow.size(3), f = 8;
  // flow comes from convolutions that are channels-last on the optimized path;
  // it is made contiguous while small, so the upsampled flow is NCHW on every path.
  if (!up_mask.defined()) return f * at::upsample_bilinear2d(flow.contiguous(), {h * f, w * f}, /*align_corners=*/true);
  const at::Tensor mask = at::softmax(up_mask.view({n, 1, 9, f, f, h, w}), 2);
  const at::Tensor unfolded = at::im2col(f * flow, {3, 3}, {1, 1}, {1, 1}, {1, 1}).view({n, c, 9, 1, 1, h, w});
  return (mask * unfolded).sum(2).permute({0, 1, 4, 2, 5, 3}).reshape({n, c, h * f, w * f});
}

}  // namespace

at::Tensor InstanceNorm2dImpl::forward(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != channels_) {
    throw Error("InstanceNorm2d: expected N x " + std::to_string(channels_) + " x H x W, got " + shape_of(x));
  }
  return at::instance_norm(x, {}, {}, {}, {}, /*use_input_stats=*/true, 0.1, 1e-5, false);
}

RaftConfig RaftConfig::large() {
  RaftConfig c;
  c.bottleneck = false;
  c.feature_layers = {64, 64, 96, 128, 256};
  c.context_layers = {64, 64, 96, 128, 256};
  c.context_norm = "batch";
  c.corr_levels = 4;
  c.corr_radius = 4;
  c.motion_corr_layers = {256, 192};
  c.motion_flow_layers = {128, 64};
  c.motion_out_channels = 128;
  c.hidden_size = 128;
  c.separable_gru = true;
  c.flow_head_hidden = 256;
  c.mask_predictor = true;
  return c;
}

RaftConfig RaftConfig::small() {
  RaftConfig c;
  c.bottleneck = true;
  c.feature_layers = {32, 32, 64, 96, 128};
  c.context_layers = {32, 32, 64, 96, 160};
  c.context_norm = "none";
  c.corr_levels = 4;
  c.corr_radius = 3;
  c.motion_corr_layers = {96};
  c.motion_flow_layers = {64, 32};
  c.motion_out_channels = 82;
  c.hidden_size = 96;
  c.separable_gru = false;
  c.flow_head_hidden = 128;
  c.mask_predictor = false;
  return c;
}

RAFTImpl::RAFTImpl(const RaftConfig& config, bool init_weights) : torch::nn::Module("RAFT"), config_(config) {
  feature_encoder = register_module(
      "feature_encoder", FeatureEncoder(config.bottleneck, config.feature_layers, "instance", init_weights).ptr());
  context_encoder = register_module(
      "context_encoder", FeatureEncoder(config.bottleneck, config.context_layers, config.context_norm, init_weights).ptr());
  update_block = register_module("update_block", UpdateBlock(config, init_weights).ptr());
  if (config.mask_predictor) {
    mask_predictor = register_module("mask_predictor", MaskPredictor(config.hidden_size, 256, init_weights).ptr());
  }
}

std::vector<at::Tensor> RAFTImpl::forward_all(const at::Tensor& image1, const at::Tensor& image2,
                                              int64_t num_flow_updates) {
  if (image1.dim() != 4 || image1.size(1) != 3) {
    throw Error("RAFT: expected N x 3 x H x W frames, got " + shape_of(image1));
  }
  if (image1.sizes() != image2.sizes()) {
    throw Error("RAFT: the two frames differ in shape: " + shape_of(image1) + " and " + shape_of(image2));
  }
  if (num_flow_updates < 1) throw Error("RAFT: num_flow_updates must be at least 1, got " + std::to_string(num_flow_updates));
  const int64_t n = image1.size(0), h0 = image1.size(2), w0 = image1.size(3);
  // Pad to a multiple of 8 (edge replication; the larger half after).
  const int64_t ph = (8 - h0 % 8) % 8, pw = (8 - w0 % 8) % 8;
  // The coarsest correlation level must keep 2 x 2 cells: at 1 cell,
  // torchvision's grid_sample normalisation divides by zero (NaN flows).
  const int64_t coarse_h = ((h0 + ph) / 8) >> (config_.corr_levels - 1);
  const int64_t coarse_w = ((w0 + pw) / 8) >> (config_.corr_levels - 1);
  if (coarse_h < 2 || coarse_w < 2) {
    throw Error("RAFT: frames of " + std::to_string(h0) + " x " + std::to_string(w0) +
                " are too small: the coarsest correlation level would be " + std::to_string(coarse_h) + " x " +
                std::to_string(coarse_w) + " (at least 2 x 2 needed; frames of 121 x 121 and larger work)");
  }
  const std::vector<int64_t> pad = {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2};
  at::Tensor a = image1, b = image2;
  if (ph || pw) {
    a = at::replication_pad2d(image1, pad);
    b = at::replication_pad2d(image2, pad);
  }
  const int64_t h = a.size(2) / 8, w = a.size(3) / 8;

  auto& fenc = static_cast<FeatureEncoderImpl&>(*feature_encoder);
  auto& cenc = static_cast<FeatureEncoderImpl&>(*context_encoder);
  auto& upd = static_cast<UpdateBlockImpl&>(*update_block);
  const at::Tensor fmaps = fenc.forward(at::cat({a, b}, 0));
  auto chunks = fmaps.chunk(2, 0);
  const at::Tensor fmap1 = chunks[0], fmap2 = chunks[1];
  const int64_t channels = fmap1.size(1);

  // Correlation pyramid: every pixel of fmap1 against all of fmap2.
  at::Tensor corr = at::matmul(fmap1.reshape({n, channels, h * w}).transpose(1, 2), fmap2.reshape({n, channels, h * w}));
  corr = corr / std::sqrt(static_cast<float>(channels));
  corr = corr.reshape({n * h * w, 1, h, w});
  std::vector<at::Tensor> pyramid = {corr};
  for (int64_t l = 1; l < config_.corr_levels; ++l) pyramid.push_back(at::avg_pool2d(pyramid.back(), 2, 2));
  const int64_t r = config_.corr_radius, side = 2 * r + 1;
  const at::Tensor d = at::linspace(-r, r, side);
  auto mesh = at::meshgrid({d, d}, "ij");
  const at::Tensor delta = at::stack({mesh[0], mesh[1]}, -1).view({1, side, side, 2});

  const at::Tensor context_out = cenc.forward(a);
  const int64_t hidden_size = config_.hidden_size;
  auto parts = context_out.split({hidden_size, context_out.size(1) - hidden_size}, 1);
  at::Tensor hidden = at::tanh(parts[0]);
  const at::Tensor context = at::relu(parts[1]);

  const at::Tensor coords0 = coords_grid(n, h, w);
  at::Tensor coords1 = coords_grid(n, h, w);
  std::vector<at::Tensor> flows;
  flows.reserve(static_cast<std::size_t>(num_flow_updates));
  for (int64_t it = 0; it < num_flow_updates; ++it) {
    at::Tensor centroids = coords1.permute({0, 2, 3, 1}).reshape({n * h * w, 1, 1, 2});
    std::vector<at::Tensor> indexed;
    for (const auto& level : pyramid) {
      indexed.push_back(grid_sample_abs(level, centroids + delta).view({n, h, w, -1}));
      centroids = centroids / 2;
    }
    const at::Tensor corr_features = at::cat(indexed, -1).permute({0, 3, 1, 2}).contiguous();
    const at::Tensor flow = coords1 - coords0;
    auto [new_hidden, delta_flow] = upd.forward(hidden, context, corr_features, flow);
    hidden = new_hidden;
    coords1 = coords1 + delta_flow;
    at::Tensor up_mask;
    if (mask_predictor) up_mask = static_cast<MaskPredictorImpl&>(*mask_predictor).forward(hidden);
    at::Tensor up = upsample_flow(coords1 - coords0, up_mask);
    if (ph || pw) up = up.narrow(2, pad[2], h0).narrow(3, pad[0], w0).contiguous();
    flows.push_back(up.contiguous());
  }
  return flows;
}

at::Tensor RAFTImpl::forward(const at::Tensor& image1, const at::Tensor& image2, int64_t num_flow_updates) {
  return forward_all(image1, image2, num_flow_updates).back();
}

RAFT raft_large(const models::ArchArgs& args) {
  mm::check_extra_keys(args, "raft_large", {"image_size"});
  return RAFT(RaftConfig::large(), args.init_weights);
}

RAFT raft_small(const models::ArchArgs& args) {
  mm::check_extra_keys(args, "raft_small", {"image_size"});
  return RAFT(RaftConfig::small(), args.init_weights);
}

const std::vector<FlowArch>& flow_architectures() {
  static const std::vector<FlowArch> table = {{"raft_large", raft_large}, {"raft_small", raft_small}};
  return table;
}

const FlowArch* find_flow_architecture(const std::string& name) {
  for (const auto& a : flow_architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

RAFT build_flow_model(const std::string& name, const models::ArchArgs& args) {
  const FlowArch* arch = find_flow_architecture(name);
  if (arch == nullptr) throw Error("unknown optical flow architecture '" + name + "' (known: raft_large, raft_small)");
  return arch->build(args);
}

}  // namespace modelzoo::optical_flow
