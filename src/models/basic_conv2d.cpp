#include "modelzoo/models/basic_conv2d.h"

#include <ATen/ops/relu.h>

namespace modelzoo::models {

BasicConv2dImpl::BasicConv2dImpl(const Conv2dOptions& options, const InitPolicy& init)
    : LayerImpl("BasicConv2d") {
  Conv2dOptions o = options;
  o.bias(false);
  conv = register_module("conv", Conv2d(o, init));
  bn = register_module("bn", BatchNorm2d(BatchNorm2dOptions(o.out_channels()).eps(0.001), init));
}

at::Tensor BasicConv2dImpl::forward(const at::Tensor& x) {
  return at::relu(bn->forward(conv->forward(x)));
}

}  // namespace modelzoo::models
