#include "modelzoo/models/squeezenet.h"

#include <sstream>

#include <ATen/ops/cat.h>

#include "models/arch_extra.h"
#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision's SqueezeNet.__init__ loop: kaiming_uniform_ (a=0, fan_in,
// leaky_relu) for every convolution but the final one, zero biases.
InitPolicy squeezenet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_uniform();
  p.conv_bias = ParamInit::zeros();
  return p;
}

MaxPool2d pool() { return MaxPool2d(MaxPool2dOptions(3).stride(2).ceil_mode(true)); }

}  // namespace

FireImpl::FireImpl(int64_t inplanes, int64_t squeeze_planes, int64_t expand1x1_planes,
                   int64_t expand3x3_planes, const InitPolicy& init)
    : LayerImpl("Fire") {
  squeeze = register_module("squeeze", Conv2d(Conv2dOptions(inplanes, squeeze_planes, 1), init));
  squeeze_activation = register_module("squeeze_activation", ReLU());
  expand1x1 = register_module("expand1x1",
                              Conv2d(Conv2dOptions(squeeze_planes, expand1x1_planes, 1), init));
  expand1x1_activation = register_module("expand1x1_activation", ReLU());
  expand3x3 = register_module(
      "expand3x3", Conv2d(Conv2dOptions(squeeze_planes, expand3x3_planes, 3).padding(1), init));
  expand3x3_activation = register_module("expand3x3_activation", ReLU());
}

at::Tensor FireImpl::forward(const at::Tensor& x) {
  const at::Tensor s = squeeze_activation->forward(squeeze->forward(x));
  return at::cat({expand1x1_activation->forward(expand1x1->forward(s)),
                  expand3x3_activation->forward(expand3x3->forward(s))},
                 1);
}

SqueezeNetImpl::SqueezeNetImpl(const SqueezeNetOptions& o) : options_(o) {
  if (o.version() != "1_0" && o.version() != "1_1") {
    throw Error("SqueezeNet: unsupported version '" + o.version() + "' (expected 1_0 or 1_1)");
  }
  if (o.num_classes() < 1) {
    throw Error("SqueezeNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("SqueezeNet: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  const InitPolicy init = squeezenet_init(o.init_weights());

  Sequential f;
  if (o.version() == "1_0") {
    f->push_back(Conv2d(Conv2dOptions(3, 96, 7).stride(2), init));
    f->push_back(ReLU());
    f->push_back(pool());
    f->push_back(Fire(96, 16, 64, 64, init));
    f->push_back(Fire(128, 16, 64, 64, init));
    f->push_back(Fire(128, 32, 128, 128, init));
    f->push_back(pool());
    f->push_back(Fire(256, 32, 128, 128, init));
    f->push_back(Fire(256, 48, 192, 192, init));
    f->push_back(Fire(384, 48, 192, 192, init));
    f->push_back(Fire(384, 64, 256, 256, init));
    f->push_back(pool());
    f->push_back(Fire(512, 64, 256, 256, init));
  } else {
    f->push_back(Conv2d(Conv2dOptions(3, 64, 3).stride(2), init));
    f->push_back(ReLU());
    f->push_back(pool());
    f->push_back(Fire(64, 16, 64, 64, init));
    f->push_back(Fire(128, 16, 64, 64, init));
    f->push_back(pool());
    f->push_back(Fire(128, 32, 128, 128, init));
    f->push_back(Fire(256, 32, 128, 128, init));
    f->push_back(pool());
    f->push_back(Fire(256, 48, 192, 192, init));
    f->push_back(Fire(384, 48, 192, 192, init));
    f->push_back(Fire(384, 64, 256, 256, init));
    f->push_back(Fire(512, 64, 256, 256, init));
  }
  features = register_module("features", f);

  // The final convolution is initialised differently from the rest.
  Sequential c;
  c->push_back(Dropout(o.dropout()));
  c->push_back(Conv2d(Conv2dOptions(512, o.num_classes(), 1).weight_init(ParamInit::normal(0.0, 0.01)),
                      init));
  c->push_back(ReLU());
  c->push_back(AdaptiveAvgPool2d(1));
  classifier = register_module("classifier", c);
}

int64_t SqueezeNetImpl::min_input_size() const { return options_.version() == "1_0" ? 21 : 17; }

at::Tensor SqueezeNetImpl::forward(at::Tensor x) {
  const int64_t min = min_input_size();
  if (x.dim() != 4 || x.size(2) < min || x.size(3) < min) {
    std::ostringstream os;
    os << "SqueezeNet " << options_.version() << ": expected input of shape N x 3 x H x W with H, W >= "
       << min << ", got " << x.sizes();
    throw Error(os.str());
  }
  return classifier->forward(features->forward(x)).flatten(1);
}

namespace {

SqueezeNet make(const std::string& arch, const char* version, const ArchArgs& args) {
  check_extra_keys(args, arch, {"dropout", "image_size"});
  detail::extra_int(args, arch, "image_size", 224);  // validated, otherwise unused
  return SqueezeNet(SqueezeNetOptions(version)
                        .num_classes(args.num_classes)
                        .dropout(extra_number(args, arch, "dropout", 0.5))
                        .init_weights(args.init_weights));
}

}  // namespace

SqueezeNet squeezenet1_0(const ArchArgs& args) { return make("squeezenet1_0", "1_0", args); }
SqueezeNet squeezenet1_1(const ArchArgs& args) { return make("squeezenet1_1", "1_1", args); }

}  // namespace modelzoo::models
