#include "modelzoo/models/googlenet.h"

#include <string>
#include <utility>

#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/relu.h>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision's GoogLeNet init loop: trunc_normal_(mean=0, std=0.01, a=-2,
// b=2) for every Conv2d and Linear weight; Linear biases keep torch.nn's
// default; BatchNorm ones/zeros.
InitPolicy googlenet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::trunc_normal(0.0, 0.01, -2.0, 2.0);
  p.linear_weight = ParamInit::trunc_normal(0.0, 0.01, -2.0, 2.0);
  return p;
}

void require_probability(const char* what, double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(std::string("GoogLeNet: ") + what + " must be in [0, 1], got " + std::to_string(p));
  }
}

}  // namespace

at::Tensor inception_transform_input(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    throw Error("transform_input: expected an N x 3 x H x W input, got " + std::to_string(x.dim()) +
                " dimensions" + (x.dim() >= 2 ? " with " + std::to_string(x.size(1)) + " channels" : ""));
  }
  const at::Tensor c0 = x.select(1, 0).unsqueeze(1).mul(0.229 / 0.5).add((0.485 - 0.5) / 0.5);
  const at::Tensor c1 = x.select(1, 1).unsqueeze(1).mul(0.224 / 0.5).add((0.456 - 0.5) / 0.5);
  const at::Tensor c2 = x.select(1, 2).unsqueeze(1).mul(0.225 / 0.5).add((0.406 - 0.5) / 0.5);
  return at::cat({c0, c1, c2}, 1);
}

GoogLeNetInceptionImpl::GoogLeNetInceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red,
                                               int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
                                               int64_t pool_proj, const InitPolicy& init)
    : LayerImpl("Inception") {
  branch1 = register_module("branch1", BasicConv2d(Conv2dOptions(in_channels, ch1x1, 1), init));
  Sequential b2;
  b2->push_back(BasicConv2d(Conv2dOptions(in_channels, ch3x3red, 1), init));
  b2->push_back(BasicConv2d(Conv2dOptions(ch3x3red, ch3x3, 3).padding(1), init));
  branch2 = register_module("branch2", b2);
  // torchvision uses a 3x3 kernel here (a known deviation from the paper's 5x5).
  Sequential b3;
  b3->push_back(BasicConv2d(Conv2dOptions(in_channels, ch5x5red, 1), init));
  b3->push_back(BasicConv2d(Conv2dOptions(ch5x5red, ch5x5, 3).padding(1), init));
  branch3 = register_module("branch3", b3);
  Sequential b4;
  b4->push_back(MaxPool2d(MaxPool2dOptions(3).stride(1).padding(1).ceil_mode(true)));
  b4->push_back(BasicConv2d(Conv2dOptions(in_channels, pool_proj, 1), init));
  branch4 = register_module("branch4", b4);
}

at::Tensor GoogLeNetInceptionImpl::forward(const at::Tensor& x) {
  return at::cat({branch1->forward(x), branch2->forward(x), branch3->forward(x), branch4->forward(x)},
                 1);
}

GoogLeNetInceptionAuxImpl::GoogLeNetInceptionAuxImpl(int64_t in_channels, int64_t num_classes,
                                                     double dropout_p, const InitPolicy& init)
    : LayerImpl("InceptionAux") {
  conv = register_module("conv", BasicConv2d(Conv2dOptions(in_channels, 128, 1), init));
  fc1 = register_module("fc1", Linear(LinearOptions(2048, 1024), init));
  fc2 = register_module("fc2", Linear(LinearOptions(1024, num_classes), init));
  dropout = register_module("dropout", Dropout(dropout_p));
}

at::Tensor GoogLeNetInceptionAuxImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::adaptive_avg_pool2d(x, {4, 4});
  y = conv->forward(y);
  y = y.flatten(1);
  y = at::relu(fc1->forward(y));
  y = dropout->forward(y);
  return fc2->forward(y);
}

GoogLeNetImpl::GoogLeNetImpl(const GoogLeNetOptions& o) : options_(o) {
  if (o.num_classes() < 1) {
    throw Error("GoogLeNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  require_probability("dropout", o.dropout());
  require_probability("dropout_aux", o.dropout_aux());
  const InitPolicy init = googlenet_init(o.init_weights());
  auto pool = [](int64_t k) { return MaxPool2d(MaxPool2dOptions(k).stride(2).ceil_mode(true)); };
  auto block = [&](int64_t in, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f) {
    return GoogLeNetInception(in, a, b, c, d, e, f, init);
  };

  // Attribute order of torchvision's __init__ = state_dict order.
  conv1 = register_module("conv1", BasicConv2d(Conv2dOptions(3, 64, 7).stride(2).padding(3), init));
  maxpool1 = register_module("maxpool1", pool(3));
  conv2 = register_module("conv2", BasicConv2d(Conv2dOptions(64, 64, 1), init));
  conv3 = register_module("conv3", BasicConv2d(Conv2dOptions(64, 192, 3).padding(1), init));
  maxpool2 = register_module("maxpool2", pool(3));
  inception3a = register_module("inception3a", block(192, 64, 96, 128, 16, 32, 32));
  inception3b = register_module("inception3b", block(256, 128, 128, 192, 32, 96, 64));
  maxpool3 = register_module("maxpool3", pool(3));
  inception4a = register_module("inception4a", block(480, 192, 96, 208, 16, 48, 64));
  inception4b = register_module("inception4b", block(512, 160, 112, 224, 24, 64, 64));
  inception4c = register_module("inception4c", block(512, 128, 128, 256, 24, 64, 64));
  inception4d = register_module("inception4d", block(512, 112, 144, 288, 32, 64, 64));
  inception4e = register_module("inception4e", block(528, 256, 160, 320, 32, 128, 128));
  maxpool4 = register_module("maxpool4", pool(2));
  inception5a = register_module("inception5a", block(832, 256, 160, 320, 32, 128, 128));
  inception5b = register_module("inception5b", block(832, 384, 192, 384, 48, 128, 128));
  if (o.aux_logits()) {
    aux1 = register_module("aux1", GoogLeNetInceptionAux(512, o.num_classes(), o.dropout_aux(), init));
    aux2 = register_module("aux2", GoogLeNetInceptionAux(528, o.num_classes(), o.dropout_aux(), init));
  }
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  dropout = register_module("dropout", Dropout(o.dropout()));
  fc = register_module("fc", Linear(LinearOptions(1024, o.num_classes()), init));
}

at::Tensor GoogLeNetImpl::transform_input(const at::Tensor& x) const {
  return options_.transform_input() ? inception_transform_input(x) : x;
}

GoogLeNetOutputs GoogLeNetImpl::run(at::Tensor x, bool with_aux) {
  GoogLeNetOutputs out;
  x = transform_input(x);
  x = conv1->forward(x);
  x = maxpool1->forward(x);
  x = conv2->forward(x);
  x = conv3->forward(x);
  x = maxpool2->forward(x);
  x = inception3a->forward(x);
  x = inception3b->forward(x);
  x = maxpool3->forward(x);
  x = inception4a->forward(x);
  if (with_aux) out.aux_logits1 = aux1->forward(x);
  x = inception4b->forward(x);
  x = inception4c->forward(x);
  x = inception4d->forward(x);
  if (with_aux) out.aux_logits2 = aux2->forward(x);
  x = inception4e->forward(x);
  x = maxpool4->forward(x);
  x = inception5a->forward(x);
  x = inception5b->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(1);
  x = dropout->forward(x);
  out.logits = fc->forward(x);
  return out;
}

GoogLeNetOutputs GoogLeNetImpl::forward_with_aux(at::Tensor x) {
  return run(std::move(x), is_training() && options_.aux_logits());
}

at::Tensor GoogLeNetImpl::forward(at::Tensor x) { return run(std::move(x), false).logits; }

GoogLeNet googlenet(const ArchArgs& args) {
  const std::string arch = "googlenet";
  check_extra_keys(args, arch,
                   {"aux_logits", "transform_input", "init_weights", "dropout", "dropout_aux",
                    "image_size"});
  return GoogLeNet(GoogLeNetOptions()
                       .num_classes(args.num_classes)
                       .aux_logits(extra_bool(args, arch, "aux_logits", true))
                       .transform_input(extra_bool(args, arch, "transform_input", false))
                       .init_weights(args.init_weights && extra_bool(args, arch, "init_weights", true))
                       .dropout(extra_number(args, arch, "dropout", 0.2))
                       .dropout_aux(extra_number(args, arch, "dropout_aux", 0.7)));
}

}  // namespace modelzoo::models
