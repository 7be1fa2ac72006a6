#include "modelzoo/models/inception.h"

#include <string>
#include <utility>

#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/max_pool2d.h>

#include "modelzoo/error.h"
#include "modelzoo/models/googlenet.h"  // inception_transform_input

namespace modelzoo::models {
namespace {

// torchvision's Inception3 init loop: trunc_normal_(mean=0, std, a=-2, b=2)
// for every Conv2d and Linear weight with std = the module's `stddev`
// attribute or 0.1. Only AuxLogits.fc (a Linear) has one (0.001): the 0.01
// torchvision sets on AuxLogits.conv1 sits on the BasicConv2d wrapper, not on
// its nn.Conv2d, so that convolution gets 0.1 too. Linear biases keep
// torch.nn's default; BatchNorm ones/zeros.
InitPolicy inception_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::trunc_normal(0.0, 0.1, -2.0, 2.0);
  p.linear_weight = ParamInit::trunc_normal(0.0, 0.1, -2.0, 2.0);
  return p;
}

BasicConv2d conv(int64_t in, int64_t out, torch::ExpandingArray<2> k, const InitPolicy& init,
                 torch::ExpandingArray<2> padding = 0, int64_t stride = 1) {
  return BasicConv2d(Conv2dOptions(in, out, k).padding(padding).stride(stride), init);
}

at::Tensor avg_pool_3x3(const at::Tensor& x) {
  return at::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1});
}

at::Tensor max_pool_3x3_s2(const at::Tensor& x) { return at::max_pool2d(x, {3, 3}, {2, 2}); }

}  // namespace

InceptionAImpl::InceptionAImpl(int64_t in, int64_t pool_features, const InitPolicy& init)
    : LayerImpl("InceptionA") {
  branch1x1 = register_module("branch1x1", conv(in, 64, 1, init));
  branch5x5_1 = register_module("branch5x5_1", conv(in, 48, 1, init));
  branch5x5_2 = register_module("branch5x5_2", conv(48, 64, 5, init, 2));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", conv(in, 64, 1, init));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", conv(64, 96, 3, init, 1));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", conv(96, 96, 3, init, 1));
  branch_pool = register_module("branch_pool", conv(in, pool_features, 1, init));
}

at::Tensor InceptionAImpl::forward(const at::Tensor& x) {
  at::Tensor b1 = branch1x1->forward(x);
  at::Tensor b5 = branch5x5_2->forward(branch5x5_1->forward(x));
  at::Tensor b3 = branch3x3dbl_3->forward(branch3x3dbl_2->forward(branch3x3dbl_1->forward(x)));
  at::Tensor bp = branch_pool->forward(avg_pool_3x3(x));
  return at::cat({b1, b5, b3, bp}, 1);
}

InceptionBImpl::InceptionBImpl(int64_t in, const InitPolicy& init) : LayerImpl("InceptionB") {
  branch3x3 = register_module("branch3x3", conv(in, 384, 3, init, 0, 2));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", conv(in, 64, 1, init));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", conv(64, 96, 3, init, 1));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", conv(96, 96, 3, init, 0, 2));
}

at::Tensor InceptionBImpl::forward(const at::Tensor& x) {
  at::Tensor b3 = branch3x3->forward(x);
  at::Tensor bd = branch3x3dbl_3->forward(branch3x3dbl_2->forward(branch3x3dbl_1->forward(x)));
  return at::cat({b3, bd, max_pool_3x3_s2(x)}, 1);
}

InceptionCImpl::InceptionCImpl(int64_t in, int64_t c7, const InitPolicy& init)
    : LayerImpl("InceptionC") {
  const torch::ExpandingArray<2> k1x7({1, 7}), k7x1({7, 1}), p1x7({0, 3}), p7x1({3, 0});
  branch1x1 = register_module("branch1x1", conv(in, 192, 1, init));
  branch7x7_1 = register_module("branch7x7_1", conv(in, c7, 1, init));
  branch7x7_2 = register_module("branch7x7_2", conv(c7, c7, k1x7, init, p1x7));
  branch7x7_3 = register_module("branch7x7_3", conv(c7, 192, k7x1, init, p7x1));
  branch7x7dbl_1 = register_module("branch7x7dbl_1", conv(in, c7, 1, init));
  branch7x7dbl_2 = register_module("branch7x7dbl_2", conv(c7, c7, k7x1, init, p7x1));
  branch7x7dbl_3 = register_module("branch7x7dbl_3", conv(c7, c7, k1x7, init, p1x7));
  branch7x7dbl_4 = register_module("branch7x7dbl_4", conv(c7, c7, k7x1, init, p7x1));
  branch7x7dbl_5 = register_module("branch7x7dbl_5", conv(c7, 192, k1x7, init, p1x7));
  branch_pool = register_module("branch_pool", conv(in, 192, 1, init));
}

at::Tensor InceptionCImpl::forward(const at::Tensor& x) {
  at::Tensor b1 = branch1x1->forward(x);
  at::Tensor b7 = branch7x7_3->forward(branch7x7_2->forward(branch7x7_1->forward(x)));
  at::Tensor bd = branch7x7dbl_1->forward(x);
  bd = branch7x7dbl_2->forward(bd);
  bd = branch7x7dbl_3->forward(bd);
  bd = branch7x7dbl_4->forward(bd);
  bd = branch7x7dbl_5->forward(bd);
  at::Tensor bp = branch_pool->forward(avg_pool_3x3(x));
  return at::cat({b1, b7, bd, bp}, 1);
}

InceptionDImpl::InceptionDImpl(int64_t in, const InitPolicy& init) : LayerImpl("InceptionD") {
  const torch::ExpandingArray<2> k1x7({1, 7}), k7x1({7, 1}), p1x7({0, 3}), p7x1({3, 0});
  branch3x3_1 = register_module("branch3x3_1", conv(in, 192, 1, init));
  branch3x3_2 = register_module("branch3x3_2", conv(192, 320, 3, init, 0, 2));
  branch7x7x3_1 = register_module("branch7x7x3_1", conv(in, 192, 1, init));
  branch7x7x3_2 = register_module("branch7x7x3_2", conv(192, 192, k1x7, init, p1x7));
  branch7x7x3_3 = register_module("branch7x7x3_3", conv(192, 192, k7x1, init, p7x1));
  branch7x7x3_4 = register_module("branch7x7x3_4", conv(192, 192, 3, init, 0, 2));
}

at::Tensor InceptionDImpl::forward(const at::Tensor& x) {
  at::Tensor b3 = branch3x3_2->forward(branch3x3_1->forward(x));
  at::Tensor b7 = branch7x7x3_1->forward(x);
  b7 = branch7x7x3_2->forward(b7);
  b7 = branch7x7x3_3->forward(b7);
  b7 = branch7x7x3_4->forward(b7);
  return at::cat({b3, b7, max_pool_3x3_s2(x)}, 1);
}

InceptionEImpl::InceptionEImpl(int64_t in, const InitPolicy& init) : LayerImpl("InceptionE") {
  const torch::ExpandingArray<2> k1x3({1, 3}), k3x1({3, 1}), p1x3({0, 1}), p3x1({1, 0});
  branch1x1 = register_module("branch1x1", conv(in, 320, 1, init));
  branch3x3_1 = register_module("branch3x3_1", conv(in, 384, 1, init));
  branch3x3_2a = register_module("branch3x3_2a", conv(384, 384, k1x3, init, p1x3));
  branch3x3_2b = register_module("branch3x3_2b", conv(384, 384, k3x1, init, p3x1));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", conv(in, 448, 1, init));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", conv(448, 384, 3, init, 1));
  branch3x3dbl_3a = register_module("branch3x3dbl_3a", conv(384, 384, k1x3, init, p1x3));
  branch3x3dbl_3b = register_module("branch3x3dbl_3b", conv(384, 384, k3x1, init, p3x1));
  branch_pool = register_module("branch_pool", conv(in, 192, 1, init));
}

at::Tensor InceptionEImpl::forward(const at::Tensor& x) {
  at::Tensor b1 = branch1x1->forward(x);
  at::Tensor b3 = branch3x3_1->forward(x);
  b3 = at::cat({branch3x3_2a->forward(b3), branch3x3_2b->forward(b3)}, 1);
  at::Tensor bd = branch3x3dbl_2->forward(branch3x3dbl_1->forward(x));
  bd = at::cat({branch3x3dbl_3a->forward(bd), branch3x3dbl_3b->forward(bd)}, 1);
  at::Tensor bp = branch_pool->forward(avg_pool_3x3(x));
  return at::cat({b1, b3, bd, bp}, 1);
}

InceptionAuxImpl::InceptionAuxImpl(int64_t in, int64_t num_classes, const InitPolicy& init)
    : LayerImpl("InceptionAux") {
  conv0 = register_module("conv0", conv(in, 128, 1, init));
  conv1 = register_module("conv1", conv(128, 768, 5, init));
  fc = register_module(
      "fc", Linear(LinearOptions(768, num_classes)
                       .weight_init(ParamInit::trunc_normal(0.0, 0.001, -2.0, 2.0)),
                   init));
}

at::Tensor InceptionAuxImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::avg_pool2d(x, {5, 5}, {3, 3});
  y = conv0->forward(y);
  y = conv1->forward(y);
  y = at::adaptive_avg_pool2d(y, {1, 1});
  y = y.flatten(1);
  return fc->forward(y);
}

Inception3Impl::Inception3Impl(const Inception3Options& o) : options_(o) {
  if (o.num_classes() < 1) {
    throw Error("Inception3: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("Inception3: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  const InitPolicy init = inception_init(o.init_weights());

  // Attribute order of torchvision's __init__ = state_dict order.
  Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", conv(3, 32, 3, init, 0, 2));
  Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", conv(32, 32, 3, init));
  Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", conv(32, 64, 3, init, 1));
  maxpool1 = register_module("maxpool1", MaxPool2d(MaxPool2dOptions(3).stride(2)));
  Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", conv(64, 80, 1, init));
  Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", conv(80, 192, 3, init));
  maxpool2 = register_module("maxpool2", MaxPool2d(MaxPool2dOptions(3).stride(2)));
  Mixed_5b = register_module("Mixed_5b", InceptionA(192, 32, init));
  Mixed_5c = register_module("Mixed_5c", InceptionA(256, 64, init));
  Mixed_5d = register_module("Mixed_5d", InceptionA(288, 64, init));
  Mixed_6a = register_module("Mixed_6a", InceptionB(288, init));
  Mixed_6b = register_module("Mixed_6b", InceptionC(768, 128, init));
  Mixed_6c = register_module("Mixed_6c", InceptionC(768, 160, init));
  Mixed_6d = register_module("Mixed_6d", InceptionC(768, 160, init));
  Mixed_6e = register_module("Mixed_6e", InceptionC(768, 192, init));
  if (o.aux_logits()) AuxLogits = register_module("AuxLogits", InceptionAux(768, o.num_classes(), init));
  Mixed_7a = register_module("Mixed_7a", InceptionD(768, init));
  Mixed_7b = register_module("Mixed_7b", InceptionE(1280, init));
  Mixed_7c = register_module("Mixed_7c", InceptionE(2048, init));
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  dropout = register_module("dropout", Dropout(o.dropout()));
  fc = register_module("fc", Linear(LinearOptions(2048, o.num_classes()), init));
}

InceptionOutputs Inception3Impl::run(at::Tensor x, bool with_aux) {
  InceptionOutputs out;
  if (options_.transform_input()) x = inception_transform_input(x);
  x = Conv2d_1a_3x3->forward(x);
  x = Conv2d_2a_3x3->forward(x);
  x = Conv2d_2b_3x3->forward(x);
  x = maxpool1->forward(x);
  x = Conv2d_3b_1x1->forward(x);
  x = Conv2d_4a_3x3->forward(x);
  x = maxpool2->forward(x);
  x = Mixed_5b->forward(x);
  x = Mixed_5c->forward(x);
  x = Mixed_5d->forward(x);
  x = Mixed_6a->forward(x);
  x = Mixed_6b->forward(x);
  x = Mixed_6c->forward(x);
  x = Mixed_6d->forward(x);
  x = Mixed_6e->forward(x);
  if (with_aux) out.aux_logits = AuxLogits->forward(x);
  x = Mixed_7a->forward(x);
  x = Mixed_7b->forward(x);
  x = Mixed_7c->forward(x);
  x = avgpool->forward(x);
  x = dropout->forward(x);
  x = x.flatten(1);
  out.logits = fc->forward(x);
  return out;
}

InceptionOutputs Inception3Impl::forward_with_aux(at::Tensor x) {
  return run(std::move(x), is_training() && options_.aux_logits());
}

at::Tensor Inception3Impl::forward(at::Tensor x) { return run(std::move(x), false).logits; }

Inception3 inception_v3(const ArchArgs& args) {
  const std::string arch = "inception_v3";
  check_extra_keys(args, arch,
                   {"aux_logits", "transform_input", "init_weights", "dropout", "image_size"});
  return Inception3(Inception3Options()
                        .num_classes(args.num_classes)
                        .aux_logits(extra_bool(args, arch, "aux_logits", true))
                        .transform_input(extra_bool(args, arch, "transform_input", false))
                        .init_weights(args.init_weights && extra_bool(args, arch, "init_weights", true))
                        .dropout(extra_number(args, arch, "dropout", 0.5)));
}

}  // namespace modelzoo::models
