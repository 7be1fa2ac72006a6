#include "modelzoo/models/resnet.h"

#include <sstream>

#include "models/arch_extra.h"
#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision's ResNet.__init__ loop: kaiming_normal_(fan_out, relu) for every
// convolution, ones/zeros for BatchNorm; fc keeps nn.Linear's own default.
InitPolicy resnet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::ReLU);
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  return p;
}

// conv3x3 / conv1x1 of torchvision.models.resnet (no bias).
Conv2d conv3x3(int64_t in, int64_t out, int64_t stride, int64_t groups, int64_t dilation,
               const InitPolicy& init) {
  return Conv2d(Conv2dOptions(in, out, 3)
                    .stride(stride)
                    .padding(dilation)
                    .groups(groups)
                    .bias(false)
                    .dilation(dilation),
                init);
}

Conv2d conv1x1(int64_t in, int64_t out, int64_t stride, const InitPolicy& init) {
  return Conv2d(Conv2dOptions(in, out, 1).stride(stride).bias(false), init);
}

// The last BatchNorm of a residual branch: zero weight under zero_init_residual.
BatchNorm2d last_bn(int64_t channels, bool zero_init, const InitPolicy& init) {
  BatchNorm2dOptions o(channels);
  if (zero_init) o.weight_init(ParamInit::zeros());
  return BatchNorm2d(o, init);
}

void require_positive(const char* what, const char* field, int64_t v) {
  if (v < 1) {
    throw Error(std::string(what) + ": " + field + " must be at least 1, got " + std::to_string(v));
  }
}

// out + identity, then relu (the tail of both blocks).
at::Tensor add_identity(at::Tensor out, const at::Tensor& x, Sequential downsample) {
  const at::Tensor identity = downsample ? downsample->forward(x) : x;
  if (!out.sizes().equals(identity.sizes())) {
    std::ostringstream os;
    os << "ResNet block: residual branch has shape " << out.sizes() << " but the identity has "
       << identity.sizes() << " (a block that changes shape needs a downsample)";
    throw Error(os.str());
  }
  out.add_(identity);
  return out.relu_();
}

}  // namespace

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

BasicBlockImpl::BasicBlockImpl(const ResNetBlockOptions& o, Sequential ds, const InitPolicy& init)
    : LayerImpl("BasicBlock") {
  require_positive("BasicBlock", "inplanes", o.inplanes());
  require_positive("BasicBlock", "planes", o.planes());
  require_positive("BasicBlock", "stride", o.stride());
  if (o.groups() != 1 || o.base_width() != 64) {
    throw Error("BasicBlock only supports groups=1 and base_width=64, got groups=" +
                std::to_string(o.groups()) + " base_width=" + std::to_string(o.base_width()));
  }
  if (o.dilation() > 1) {
    throw Error("BasicBlock does not support dilation > 1, got dilation=" +
                std::to_string(o.dilation()));
  }
  conv1 = register_module("conv1", conv3x3(o.inplanes(), o.planes(), o.stride(), 1, 1, init));
  bn1 = register_module("bn1", BatchNorm2d(o.planes(), init));
  relu = register_module("relu", ReLU());
  conv2 = register_module("conv2", conv3x3(o.planes(), o.planes(), 1, 1, 1, init));
  bn2 = register_module("bn2", last_bn(o.planes(), o.zero_init_last_bn(), init));
  if (ds) downsample = register_module("downsample", ds);
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  return add_identity(out, x, downsample);
}

BottleneckImpl::BottleneckImpl(const ResNetBlockOptions& o, Sequential ds, const InitPolicy& init)
    : LayerImpl("Bottleneck") {
  require_positive("Bottleneck", "inplanes", o.inplanes());
  require_positive("Bottleneck", "planes", o.planes());
  require_positive("Bottleneck", "stride", o.stride());
  require_positive("Bottleneck", "groups", o.groups());
  require_positive("Bottleneck", "base_width", o.base_width());
  require_positive("Bottleneck", "dilation", o.dilation());
  // int(planes * (base_width / 64.0)) * groups
  const auto width =
      static_cast<int64_t>(static_cast<double>(o.planes()) * (static_cast<double>(o.base_width()) / 64.0)) *
      o.groups();
  if (width < 1) {
    throw Error("Bottleneck: planes=" + std::to_string(o.planes()) + " with base_width=" +
                std::to_string(o.base_width()) + " gives an inner width of 0");
  }
  const int64_t out = o.planes() * expansion;
  conv1 = register_module("conv1", conv1x1(o.inplanes(), width, 1, init));
  bn1 = register_module("bn1", BatchNorm2d(width, init));
  conv2 = register_module("conv2", conv3x3(width, width, o.stride(), o.groups(), o.dilation(), init));
  bn2 = register_module("bn2", BatchNorm2d(width, init));
  conv3 = register_module("conv3", conv1x1(width, out, 1, init));
  bn3 = register_module("bn3", last_bn(out, o.zero_init_last_bn(), init));
  relu = register_module("relu", ReLU());
  if (ds) downsample = register_module("downsample", ds);
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = relu->forward(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  return add_identity(out, x, downsample);
}

// ---------------------------------------------------------------------------
// ResNet
// ---------------------------------------------------------------------------

ResNetImpl::ResNetImpl(const ResNetOptions& o) : options_(o) {
  if (o.layers().size() != 4) {
    throw Error("ResNet: layers must hold 4 block counts, got " + std::to_string(o.layers().size()));
  }
  for (int64_t n : o.layers()) require_positive("ResNet", "every entry of layers", n);
  require_positive("ResNet", "num_classes", o.num_classes());
  require_positive("ResNet", "groups", o.groups());
  require_positive("ResNet", "width_per_group", o.width_per_group());
  const InitPolicy init = resnet_init(o.init_weights());
  const int64_t expansion =
      o.block() == ResNetBlock::Basic ? BasicBlockImpl::expansion : BottleneckImpl::expansion;
  const auto& dilate = o.replace_stride_with_dilation();

  // Registration order = torchvision's attribute order = state_dict order.
  conv1 = register_module(
      "conv1", Conv2d(Conv2dOptions(3, inplanes_, 7).stride(2).padding(3).bias(false), init));
  bn1 = register_module("bn1", BatchNorm2d(inplanes_, init));
  relu = register_module("relu", ReLU());
  maxpool = register_module("maxpool", MaxPool2d(MaxPool2dOptions(3).stride(2).padding(1)));
  layer1 = register_module("layer1", make_layer(64, o.layers()[0], 1, false, init));
  layer2 = register_module("layer2", make_layer(128, o.layers()[1], 2, dilate[0], init));
  layer3 = register_module("layer3", make_layer(256, o.layers()[2], 2, dilate[1], init));
  layer4 = register_module("layer4", make_layer(512, o.layers()[3], 2, dilate[2], init));
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  fc = register_module("fc", Linear(LinearOptions(512 * expansion, o.num_classes()), init));
}

// torchvision's ResNet._make_layer.
Sequential ResNetImpl::make_layer(int64_t planes, int64_t blocks, int64_t stride, bool dilate,
                                  const InitPolicy& init) {
  const bool basic = options_.block() == ResNetBlock::Basic;
  const int64_t expansion = basic ? BasicBlockImpl::expansion : BottleneckImpl::expansion;
  const int64_t previous_dilation = dilation_;
  if (dilate) {
    dilation_ *= stride;
    stride = 1;
  }
  Sequential downsample{nullptr};
  if (stride != 1 || inplanes_ != planes * expansion) {
    downsample = Sequential();
    downsample->push_back(conv1x1(inplanes_, planes * expansion, stride, init));
    downsample->push_back(BatchNorm2d(planes * expansion, init));
  }
  auto block = [&](const ResNetBlockOptions& bo, Sequential ds) -> LayerPtr {
    if (basic) return BasicBlock(bo, ds, init).ptr();
    return Bottleneck(bo, ds, init).ptr();
  };
  const bool zero_init = options_.zero_init_residual();
  Sequential layers;
  layers->push_back(block(ResNetBlockOptions(inplanes_, planes)
                              .stride(stride)
                              .groups(options_.groups())
                              .base_width(options_.width_per_group())
                              .dilation(previous_dilation)
                              .zero_init_last_bn(zero_init),
                          downsample));
  inplanes_ = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) {
    layers->push_back(block(ResNetBlockOptions(inplanes_, planes)
                                .groups(options_.groups())
                                .base_width(options_.width_per_group())
                                .dilation(dilation_)
                                .zero_init_last_bn(zero_init),
                            Sequential(nullptr)));
  }
  return layers;
}

at::Tensor ResNetImpl::forward(at::Tensor x) {
  if (x.dim() != 4) {
    std::ostringstream os;
    os << "ResNet: expected input of shape N x 3 x H x W, got " << x.sizes();
    throw Error(os.str());
  }
  x = maxpool->forward(relu->forward(bn1->forward(conv1->forward(x))));
  x = layer1->forward(x);
  x = layer2->forward(x);
  x = layer3->forward(x);
  x = layer4->forward(x);
  x = avgpool->forward(x).flatten(1);
  return fc->forward(x);
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

namespace {

// torchvision's _resnet plus _ovewrite_named_param: `groups`/`width` fixed by
// the builder (0 = not fixed) refuse a different value from args.extra.
ResNet make(const std::string& arch, ResNetBlock block, std::vector<int64_t> layers,
            int64_t fixed_groups, int64_t fixed_width, const ArchArgs& args) {
  check_extra_keys(args, arch,
                   {"zero_init_residual", "replace_stride_with_dilation", "groups",
                    "width_per_group", "image_size"});
  auto fixed = [&](const char* key, int64_t fixed_value, int64_t fallback) {
    const int64_t given = detail::extra_int(args, arch, key, fixed_value ? fixed_value : fallback);
    if (fixed_value && given != fixed_value) {
      throw Error(arch + ": extra argument '" + key + "' is fixed to " +
                  std::to_string(fixed_value) + " by this architecture, got " +
                  std::to_string(given));
    }
    return given;
  };
  detail::extra_int(args, arch, "image_size", 224);  // validated, otherwise unused
  return ResNet(ResNetOptions(block, std::move(layers))
                    .num_classes(args.num_classes)
                    .zero_init_residual(extra_bool(args, arch, "zero_init_residual", false))
                    .groups(fixed("groups", fixed_groups, 1))
                    .width_per_group(fixed("width_per_group", fixed_width, 64))
                    .replace_stride_with_dilation(detail::extra_bools<3>(
                        args, arch, "replace_stride_with_dilation", {{false, false, false}}))
                    .init_weights(args.init_weights));
}

constexpr auto Basic = ResNetBlock::Basic;
constexpr auto Bneck = ResNetBlock::Bottleneck;

}  // namespace

ResNet resnet18(const ArchArgs& a) { return make("resnet18", Basic, {2, 2, 2, 2}, 0, 0, a); }
ResNet resnet34(const ArchArgs& a) { return make("resnet34", Basic, {3, 4, 6, 3}, 0, 0, a); }
ResNet resnet50(const ArchArgs& a) { return make("resnet50", Bneck, {3, 4, 6, 3}, 0, 0, a); }
ResNet resnet101(const ArchArgs& a) { return make("resnet101", Bneck, {3, 4, 23, 3}, 0, 0, a); }
ResNet resnet152(const ArchArgs& a) { return make("resnet152", Bneck, {3, 8, 36, 3}, 0, 0, a); }
ResNet resnext50_32x4d(const ArchArgs& a) {
  return make("resnext50_32x4d", Bneck, {3, 4, 6, 3}, 32, 4, a);
}
ResNet resnext101_32x8d(const ArchArgs& a) {
  return make("resnext101_32x8d", Bneck, {3, 4, 23, 3}, 32, 8, a);
}
ResNet resnext101_64x4d(const ArchArgs& a) {
  return make("resnext101_64x4d", Bneck, {3, 4, 23, 3}, 64, 4, a);
}
ResNet wide_resnet50_2(const ArchArgs& a) {
  return make("wide_resnet50_2", Bneck, {3, 4, 6, 3}, 0, 128, a);
}
ResNet wide_resnet101_2(const ArchArgs& a) {
  return make("wide_resnet101_2", Bneck, {3, 4, 23, 3}, 0, 128, a);
}

}  // namespace modelzoo::models
