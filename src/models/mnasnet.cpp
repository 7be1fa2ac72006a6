#include "modelzoo/models/mnasnet.h"

#include <algorithm>
#include <string>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

constexpr double kBnMomentum = 1.0 - 0.9997;

// torchvision's MNASNet init loop: kaiming_normal_(fan_out, relu)
// convolutions, kaiming_uniform_(fan_out, sigmoid) Linear weights, zero
// biases, BatchNorm ones/zeros.
InitPolicy mnasnet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::ReLU);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::kaiming_uniform(FanMode::FanOut, Nonlinearity::Sigmoid);
  p.linear_bias = ParamInit::zeros();
  return p;
}

// _round_to_multiple_of(val, divisor, round_up_bias=0.9).
int64_t round_to_multiple_of(double val, int64_t divisor) {
  const int64_t new_val =
      std::max(divisor, static_cast<int64_t>(val + static_cast<double>(divisor) / 2.0) / divisor * divisor);
  return static_cast<double>(new_val) >= 0.9 * val ? new_val : new_val + divisor;
}

// _stack: one strided block, then repeats - 1 blocks of stride 1.
Sequential stack(int64_t in_ch, int64_t out_ch, int64_t kernel, int64_t stride, int64_t exp_factor,
                 int64_t repeats, const InitPolicy& init) {
  Sequential s;
  s->push_back(MNASNetInvertedResidual(in_ch, out_ch, kernel, stride, exp_factor, kBnMomentum, init));
  for (int64_t i = 1; i < repeats; ++i) {
    s->push_back(MNASNetInvertedResidual(out_ch, out_ch, kernel, 1, exp_factor, kBnMomentum, init));
  }
  return s;
}

BatchNorm2d bn(int64_t channels, const InitPolicy& init) {
  return BatchNorm2d(BatchNorm2dOptions(channels).momentum(kBnMomentum), init);
}

MNASNet make(const std::string& arch, double alpha, const ArchArgs& args) {
  check_extra_keys(args, arch, {"dropout", "version", "image_size"});
  const double version = extra_number(args, arch, "version", 2);
  if (version != 1 && version != 2) {
    throw Error(arch + ": extra argument 'version' must be 1 or 2, got " + args.extra.at("version").dump());
  }
  return MNASNet(MNASNetOptions(alpha)
                     .num_classes(args.num_classes)
                     .dropout(extra_number(args, arch, "dropout", 0.2))
                     .version(static_cast<int64_t>(version))
                     .init_weights(args.init_weights));
}

}  // namespace

std::vector<int64_t> mnasnet_depths(double alpha) {
  if (!(alpha > 0.0)) throw Error("MNASNet: alpha must be positive, got " + std::to_string(alpha));
  std::vector<int64_t> depths;
  for (int64_t d : {32, 16, 24, 40, 80, 96, 192, 320}) {
    depths.push_back(round_to_multiple_of(static_cast<double>(d) * alpha, 8));
  }
  return depths;
}

MNASNetInvertedResidualImpl::MNASNetInvertedResidualImpl(int64_t in_ch, int64_t out_ch,
                                                         int64_t kernel_size, int64_t stride,
                                                         int64_t expansion_factor,
                                                         double bn_momentum, const InitPolicy& init)
    : LayerImpl("_InvertedResidual") {
  if (stride != 1 && stride != 2) {
    throw Error("MNASNet _InvertedResidual: stride must be 1 or 2, got " + std::to_string(stride));
  }
  if (kernel_size != 3 && kernel_size != 5) {
    throw Error("MNASNet _InvertedResidual: kernel_size must be 3 or 5, got " +
                std::to_string(kernel_size));
  }
  if (in_ch < 1 || out_ch < 1 || expansion_factor < 1) {
    throw Error("MNASNet _InvertedResidual: channels and expansion must be positive, got in_ch=" +
                std::to_string(in_ch) + " out_ch=" + std::to_string(out_ch) +
                " expansion_factor=" + std::to_string(expansion_factor));
  }
  const int64_t mid = in_ch * expansion_factor;
  apply_residual_ = in_ch == out_ch && stride == 1;
  auto norm = [&](int64_t c) { return BatchNorm2d(BatchNorm2dOptions(c).momentum(bn_momentum), init); };
  Sequential l;
  l->push_back(Conv2d(Conv2dOptions(in_ch, mid, 1).bias(false), init));
  l->push_back(norm(mid));
  l->push_back(ReLU());
  l->push_back(Conv2d(Conv2dOptions(mid, mid, kernel_size)
                          .padding(kernel_size / 2)
                          .stride(stride)
                          .groups(mid)
                          .bias(false),
                      init));
  l->push_back(norm(mid));
  l->push_back(ReLU());
  l->push_back(Conv2d(Conv2dOptions(mid, out_ch, 1).bias(false), init));
  l->push_back(norm(out_ch));
  layers = register_module("layers", l);
}

at::Tensor MNASNetInvertedResidualImpl::forward(const at::Tensor& x) {
  if (apply_residual_) return layers->forward(x).add(x);
  return layers->forward(x);
}

MNASNetImpl::MNASNetImpl(const MNASNetOptions& o) : options_(o) {
  const std::vector<int64_t> depths = mnasnet_depths(o.alpha());
  if (o.num_classes() < 1) {
    throw Error("MNASNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("MNASNet: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  if (o.version() != 1 && o.version() != 2) {
    throw Error("MNASNet: version must be 1 or 2, got " + std::to_string(o.version()));
  }
  const InitPolicy init = mnasnet_init(o.init_weights());
  // Version 1 kept the stem at 32/16 channels whatever alpha is.
  const int64_t stem0 = o.version() == 1 ? 32 : depths[0];
  const int64_t stem1 = o.version() == 1 ? 16 : depths[1];

  Sequential l;
  l->push_back(Conv2d(Conv2dOptions(3, stem0, 3).padding(1).stride(2).bias(false), init));
  l->push_back(bn(stem0, init));
  l->push_back(ReLU());
  l->push_back(Conv2d(Conv2dOptions(stem0, stem0, 3).padding(1).groups(stem0).bias(false), init));
  l->push_back(bn(stem0, init));
  l->push_back(ReLU());
  l->push_back(Conv2d(Conv2dOptions(stem0, stem1, 1).bias(false), init));
  l->push_back(bn(stem1, init));
  l->push_back(stack(stem1, depths[2], 3, 2, 3, 3, init));
  l->push_back(stack(depths[2], depths[3], 5, 2, 3, 3, init));
  l->push_back(stack(depths[3], depths[4], 5, 2, 6, 3, init));
  l->push_back(stack(depths[4], depths[5], 3, 1, 6, 2, init));
  l->push_back(stack(depths[5], depths[6], 5, 2, 6, 4, init));
  l->push_back(stack(depths[6], depths[7], 3, 1, 6, 1, init));
  l->push_back(Conv2d(Conv2dOptions(depths[7], 1280, 1).bias(false), init));
  l->push_back(bn(1280, init));
  l->push_back(ReLU());
  layers = register_module("layers", l);

  Sequential head;
  head->push_back(Dropout(o.dropout()));
  head->push_back(Linear(LinearOptions(1280, o.num_classes()), init));
  classifier = register_module("classifier", head);
}

at::Tensor MNASNetImpl::forward(at::Tensor x) {
  x = layers->forward(x);
  x = x.mean(at::IntArrayRef{2, 3});
  return classifier->forward(x);
}

MNASNet mnasnet0_5(const ArchArgs& args) { return make("mnasnet0_5", 0.5, args); }
MNASNet mnasnet0_75(const ArchArgs& args) { return make("mnasnet0_75", 0.75, args); }
MNASNet mnasnet1_0(const ArchArgs& args) { return make("mnasnet1_0", 1.0, args); }
MNASNet mnasnet1_3(const ArchArgs& args) { return make("mnasnet1_3", 1.3, args); }

}  // namespace modelzoo::models
