#include "modelzoo/models/mobilenetv3.h"

#include <string>
#include <utility>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// Same init loop as MobileNetV2.
InitPolicy mobilenet_v3_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::normal(0.0, 0.01);
  p.linear_bias = ParamInit::zeros();
  return p;
}

// One row of torchvision's table, before width adjustment.
struct Row {
  int64_t input, kernel, expanded, out;
  bool use_se;
  const char* activation;  // "RE" or "HS"
  int64_t stride, dilation;
};

MobileNetV3BlockConfig adjust(const Row& r, double width_mult) {
  auto channels = [&](int64_t c) { return make_divisible(static_cast<double>(c) * width_mult, 8); };
  MobileNetV3BlockConfig c;
  c.input_channels = channels(r.input);
  c.kernel = r.kernel;
  c.expanded_channels = channels(r.expanded);
  c.out_channels = channels(r.out);
  c.use_se = r.use_se;
  c.use_hs = std::string(r.activation) == "HS";
  c.stride = r.stride;
  c.dilation = r.dilation;
  return c;
}

MobileNetV3 make(const std::string& arch, const ArchArgs& args) {
  check_extra_keys(args, arch, {"width_mult", "reduced_tail", "dilated", "dropout", "image_size"});
  MobileNetV3Config config = mobilenet_v3_config(arch, extra_number(args, arch, "width_mult", 1.0),
                                                 extra_bool(args, arch, "reduced_tail", false),
                                                 extra_bool(args, arch, "dilated", false));
  return MobileNetV3(MobileNetV3Options(std::move(config))
                         .num_classes(args.num_classes)
                         .dropout(extra_number(args, arch, "dropout", 0.2))
                         .init_weights(args.init_weights));
}

}  // namespace

MobileNetV3Config mobilenet_v3_config(const std::string& arch, double width_mult, bool reduced_tail,
                                      bool dilated) {
  if (!(width_mult > 0.0)) {
    throw Error(arch + ": width_mult must be positive, got " + std::to_string(width_mult));
  }
  const int64_t rd = reduced_tail ? 2 : 1;
  const int64_t dil = dilated ? 2 : 1;
  std::vector<Row> rows;
  int64_t last_channel = 0;
  if (arch == "mobilenet_v3_large") {
    rows = {
        {16, 3, 16, 16, false, "RE", 1, 1},
        {16, 3, 64, 24, false, "RE", 2, 1},
        {24, 3, 72, 24, false, "RE", 1, 1},
        {24, 5, 72, 40, true, "RE", 2, 1},
        {40, 5, 120, 40, true, "RE", 1, 1},
        {40, 5, 120, 40, true, "RE", 1, 1},
        {40, 3, 240, 80, false, "HS", 2, 1},
        {80, 3, 200, 80, false, "HS", 1, 1},
        {80, 3, 184, 80, false, "HS", 1, 1},
        {80, 3, 184, 80, false, "HS", 1, 1},
        {80, 3, 480, 112, true, "HS", 1, 1},
        {112, 3, 672, 112, true, "HS", 1, 1},
        {112, 5, 672, 160 / rd, true, "HS", 2, dil},
        {160 / rd, 5, 960 / rd, 160 / rd, true, "HS", 1, dil},
        {160 / rd, 5, 960 / rd, 160 / rd, true, "HS", 1, dil},
    };
    last_channel = make_divisible(static_cast<double>(1280 / rd) * width_mult, 8);
  } else if (arch == "mobilenet_v3_small") {
    rows = {
        {16, 3, 16, 16, true, "RE", 2, 1},
        {16, 3, 72, 24, false, "RE", 2, 1},
        {24, 3, 88, 24, false, "RE", 1, 1},
        {24, 5, 96, 40, true, "HS", 2, 1},
        {40, 5, 240, 40, true, "HS", 1, 1},
        {40, 5, 240, 40, true, "HS", 1, 1},
        {40, 5, 120, 48, true, "HS", 1, 1},
        {48, 5, 144, 48, true, "HS", 1, 1},
        {48, 5, 288, 96 / rd, true, "HS", 2, dil},
        {96 / rd, 5, 576 / rd, 96 / rd, true, "HS", 1, dil},
        {96 / rd, 5, 576 / rd, 96 / rd, true, "HS", 1, dil},
    };
    last_channel = make_divisible(static_cast<double>(1024 / rd) * width_mult, 8);
  } else {
    throw Error("MobileNetV3: unsupported model type '" + arch +
                "' (expected mobilenet_v3_large or mobilenet_v3_small)");
  }
  MobileNetV3Config config;
  for (const Row& r : rows) config.blocks.push_back(adjust(r, width_mult));
  config.last_channel = last_channel;
  return config;
}

MobileNetV3InvertedResidualImpl::MobileNetV3InvertedResidualImpl(const MobileNetV3BlockConfig& cnf,
                                                                 double norm_eps,
                                                                 double norm_momentum,
                                                                 const InitPolicy& init)
    : LayerImpl("InvertedResidual") {
  if (cnf.stride != 1 && cnf.stride != 2) {
    throw Error("MobileNetV3 InvertedResidual: stride must be 1 or 2, got " +
                std::to_string(cnf.stride));
  }
  if (cnf.input_channels < 1 || cnf.expanded_channels < 1 || cnf.out_channels < 1 ||
      cnf.kernel < 1 || cnf.dilation < 1) {
    throw Error("MobileNetV3 InvertedResidual: channels, kernel and dilation must be positive, got "
                "input=" + std::to_string(cnf.input_channels) +
                " expanded=" + std::to_string(cnf.expanded_channels) +
                " out=" + std::to_string(cnf.out_channels) + " kernel=" + std::to_string(cnf.kernel) +
                " dilation=" + std::to_string(cnf.dilation));
  }
  use_res_connect_ = cnf.stride == 1 && cnf.input_channels == cnf.out_channels;
  const ActivationFactory act =
      cnf.use_hs ? activation_factory<Hardswish>() : activation_factory<ReLU>();
  const NormFactory norm = batch_norm2d_factory(norm_eps, norm_momentum);

  Sequential layers;
  if (cnf.expanded_channels != cnf.input_channels) {
    layers->push_back(Conv2dNormActivation(
        Conv2dNormActivationOptions(cnf.input_channels, cnf.expanded_channels, 1).norm(norm).activation(act),
        init));
  }
  layers->push_back(Conv2dNormActivation(
      Conv2dNormActivationOptions(cnf.expanded_channels, cnf.expanded_channels, cnf.kernel)
          .stride(cnf.dilation > 1 ? 1 : cnf.stride)
          .dilation(cnf.dilation)
          .groups(cnf.expanded_channels)
          .norm(norm)
          .activation(act),
      init));
  if (cnf.use_se) {
    // _make_divisible(expanded_channels // 4, 8)
    const int64_t squeeze = make_divisible(static_cast<double>(cnf.expanded_channels / 4), 8);
    layers->push_back(SqueezeExcitation(SqueezeExcitationOptions(cnf.expanded_channels, squeeze)
                                            .scale_activation(activation_factory<Hardsigmoid>()),
                                        init));
  }
  layers->push_back(Conv2dNormActivation(
      Conv2dNormActivationOptions(cnf.expanded_channels, cnf.out_channels, 1).norm(norm).activation(nullptr),
      init));
  block = register_module("block", layers);
}

at::Tensor MobileNetV3InvertedResidualImpl::forward(const at::Tensor& x) {
  at::Tensor result = block->forward(x);
  if (use_res_connect_) result = result.add(x);
  return result;
}

MobileNetV3Impl::MobileNetV3Impl(const MobileNetV3Options& o) : options_(o) {
  const auto& blocks = o.config().blocks;
  if (blocks.empty()) throw Error("MobileNetV3: the inverted_residual_setting should not be empty");
  if (o.config().last_channel < 1) {
    throw Error("MobileNetV3: last_channel must be at least 1, got " +
                std::to_string(o.config().last_channel));
  }
  if (o.num_classes() < 1) {
    throw Error("MobileNetV3: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("MobileNetV3: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  const InitPolicy init = mobilenet_v3_init(o.init_weights());

  const NormFactory norm = batch_norm2d_factory(o.norm_eps(), o.norm_momentum());
  Sequential trunk;
  trunk->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(3, blocks.front().input_channels)
                                            .stride(2)
                                            .norm(norm)
                                            .activation(activation_factory<Hardswish>()),
                                        init));
  for (const auto& cnf : blocks) {
    trunk->push_back(MobileNetV3InvertedResidual(cnf, o.norm_eps(), o.norm_momentum(), init));
  }
  const int64_t lastconv_in = blocks.back().out_channels;
  const int64_t lastconv_out = 6 * lastconv_in;
  trunk->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(lastconv_in, lastconv_out, 1)
                                            .norm(norm)
                                            .activation(activation_factory<Hardswish>()),
                                        init));
  features = register_module("features", trunk);
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));

  Sequential head;
  head->push_back(Linear(LinearOptions(lastconv_out, o.config().last_channel), init));
  head->push_back(Hardswish());
  head->push_back(Dropout(o.dropout()));
  head->push_back(Linear(LinearOptions(o.config().last_channel, o.num_classes()), init));
  classifier = register_module("classifier", head);
}

at::Tensor MobileNetV3Impl::forward(at::Tensor x) {
  x = features->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(1);
  return classifier->forward(x);
}

MobileNetV3 mobilenet_v3_large(const ArchArgs& args) { return make("mobilenet_v3_large", args); }
MobileNetV3 mobilenet_v3_small(const ArchArgs& args) { return make("mobilenet_v3_small", args); }

}  // namespace modelzoo::models
