#include "modelzoo/models/convnext.h"

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

constexpr double kNormEps = 1e-6;

// ConvNeXt.__init__: trunc_normal_(std=0.02) for every Conv2d and Linear
// weight, zero biases; LayerNorms keep ones/zeros.
InitPolicy convnext_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::trunc_normal(0.0, 0.02);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::trunc_normal(0.0, 0.02);
  p.linear_bias = ParamInit::zeros();
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  return p;
}

ConvNeXt make(const std::string& arch, std::vector<CNBlockConfig> setting, double sd_prob,
              const ArchArgs& args) {
  check_extra_keys(args, arch, {"stochastic_depth_prob", "layer_scale", "image_size"});
  return ConvNeXt(ConvNeXtOptions(std::move(setting))
                      .stochastic_depth_prob(extra_number(args, arch, "stochastic_depth_prob", sd_prob))
                      .layer_scale(extra_number(args, arch, "layer_scale", 1e-6))
                      .num_classes(args.num_classes)
                      .init_weights(args.init_weights));
}

}  // namespace

CNBlockImpl::CNBlockImpl(int64_t dim, double scale, double sd_prob, const InitPolicy& policy)
    : LayerImpl("CNBlock") {
  if (dim < 1) throw Error("CNBlock: dim must be positive, got " + std::to_string(dim));
  Sequential b;
  b->push_back(Conv2d(Conv2dOptions(dim, dim, 7).padding(3).groups(dim), policy));
  b->push_back(Permute(std::vector<int64_t>{0, 2, 3, 1}));
  b->push_back(LayerNorm(LayerNormOptions({dim}).eps(kNormEps), policy));
  b->push_back(Linear(LinearOptions(dim, 4 * dim), policy));
  b->push_back(GELU());
  b->push_back(Linear(LinearOptions(4 * dim, dim), policy));
  b->push_back(Permute(std::vector<int64_t>{0, 3, 1, 2}));
  block = register_module("block", b);
  layer_scale = register_parameter("layer_scale",
                                   new_parameter({dim, 1, 1}, ParamInit::constant(scale), policy));
  stochastic_depth = register_module("stochastic_depth", StochasticDepth(sd_prob, "row"));
}

at::Tensor CNBlockImpl::forward(const at::Tensor& x) {
  at::Tensor result = layer_scale * block->forward(x);
  result = stochastic_depth->forward(result);
  result += x;
  return result;
}

ConvNeXtImpl::ConvNeXtImpl(const ConvNeXtOptions& o) : options_(o) {
  const auto& setting = o.block_setting();
  if (setting.empty()) throw Error("ConvNeXt: the block_setting should not be empty");
  if (o.num_classes() < 1) {
    throw Error("ConvNeXt: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.stochastic_depth_prob() >= 0.0 && o.stochastic_depth_prob() <= 1.0)) {
    throw Error("ConvNeXt: stochastic_depth_prob must be in [0, 1], got " +
                std::to_string(o.stochastic_depth_prob()));
  }
  int64_t total_blocks = 0;
  for (std::size_t i = 0; i < setting.size(); ++i) {
    const auto& c = setting[i];
    if (c.input_channels < 1 || c.num_layers < 1 || (c.out_channels && *c.out_channels < 1)) {
      throw Error("ConvNeXt: stage " + std::to_string(i) +
                  " needs positive channels and layers (got input_channels=" +
                  std::to_string(c.input_channels) + " out_channels=" +
                  (c.out_channels ? std::to_string(*c.out_channels) : std::string("None")) +
                  " num_layers=" + std::to_string(c.num_layers) + ")");
    }
    total_blocks += c.num_layers;
  }
  const InitPolicy init = convnext_init(o.init_weights());

  Sequential layers;
  layers->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(3, setting.front().input_channels, 4)
                                             .stride(4)
                                             .padding(torch::ExpandingArray<2>(0))
                                             .norm(layer_norm2d_factory(kNormEps))
                                             .activation(nullptr)
                                             .bias(true),
                                         init));
  int64_t block_id = 0;
  for (const auto& c : setting) {
    Sequential stage;
    for (int64_t i = 0; i < c.num_layers; ++i) {
      // Python divides by (total - 1.0): a single-block network gets 0/0 = nan
      // there; here the only block gets probability 0.
      const double sd_prob = total_blocks > 1 ? o.stochastic_depth_prob() *
                                                    static_cast<double>(block_id) /
                                                    (static_cast<double>(total_blocks) - 1.0)
                                              : 0.0;
      stage->push_back(CNBlock(c.input_channels, o.layer_scale(), sd_prob, init));
      ++block_id;
    }
    layers->push_back(stage);
    if (c.out_channels) {
      Sequential down;
      down->push_back(LayerNorm2d(c.input_channels, kNormEps, init));
      down->push_back(Conv2d(Conv2dOptions(c.input_channels, *c.out_channels, 2).stride(2), init));
      layers->push_back(down);
    }
  }
  features = register_module("features", layers);
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  const auto& last = setting.back();
  const int64_t last_channels = last.out_channels.value_or(last.input_channels);
  Sequential head;
  head->push_back(LayerNorm2d(last_channels, kNormEps, init));
  head->push_back(Flatten(1));
  head->push_back(Linear(LinearOptions(last_channels, o.num_classes()), init));
  classifier = register_module("classifier", head);
}

at::Tensor ConvNeXtImpl::forward(at::Tensor x) {
  x = features->forward(x);
  x = avgpool->forward(x);
  return classifier->forward(x);
}

ConvNeXt convnext_tiny(const ArchArgs& a) {
  return make("convnext_tiny", {{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, c10::nullopt, 3}}, 0.1, a);
}
ConvNeXt convnext_small(const ArchArgs& a) {
  return make("convnext_small", {{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, c10::nullopt, 3}}, 0.4, a);
}
ConvNeXt convnext_base(const ArchArgs& a) {
  return make("convnext_base", {{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, c10::nullopt, 3}}, 0.5, a);
}
ConvNeXt convnext_large(const ArchArgs& a) {
  return make("convnext_large", {{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, c10::nullopt, 3}}, 0.5, a);
}

}  // namespace modelzoo::models
