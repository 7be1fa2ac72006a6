#include "modelzoo/models/vgg.h"

#include <map>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

constexpr int64_t M = -1;  // max pooling

// torchvision.models.vgg.cfgs: channel counts, M = MaxPool2d(2, 2).
const std::map<std::string, std::vector<int64_t>>& configs() {
  static const std::map<std::string, std::vector<int64_t>> table = {
      {"A", {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M}},
      {"B", {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M}},
      {"D", {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M}},
      {"E", {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512,
             512, M}},
  };
  return table;
}

// torchvision's VGG._initialize_weights: kaiming_normal_(fan_out, relu)
// convolutions, normal(0, 0.01) linear layers, zero biases, BN ones/zeros.
InitPolicy vgg_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::ReLU);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::normal(0.0, 0.01);
  p.linear_bias = ParamInit::zeros();
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  return p;
}

// torchvision.models.vgg.make_layers.
Sequential make_features(const std::vector<int64_t>& cfg, bool batch_norm, const InitPolicy& init) {
  Sequential layers;
  int64_t in_channels = 3;
  for (int64_t v : cfg) {
    if (v == M) {
      layers->push_back(MaxPool2d(MaxPool2dOptions(2).stride(2)));
      continue;
    }
    layers->push_back(Conv2d(Conv2dOptions(in_channels, v, 3).padding(1), init));
    if (batch_norm) layers->push_back(BatchNorm2d(BatchNorm2dOptions(v), init));
    layers->push_back(ReLU());
    in_channels = v;
  }
  return layers;
}

VGG make(const std::string& arch, const char* cfg, bool batch_norm, const ArchArgs& args) {
  return VGG(VGGOptions(cfg)
                 .batch_norm(batch_norm)
                 .num_classes(args.num_classes)
                 .dropout(extra_number(args, arch, "dropout", 0.5))
                 .init_weights(args.init_weights));
}

}  // namespace

const std::vector<int64_t>& vgg_config(const std::string& cfg) {
  const auto& table = configs();
  auto it = table.find(cfg);
  if (it == table.end()) {
    throw Error("VGG: unknown configuration '" + cfg + "' (expected A, B, D or E)");
  }
  return it->second;
}

VGGImpl::VGGImpl(const VGGOptions& o) : options_(o) {
  const auto& cfg = vgg_config(o.cfg());
  if (o.num_classes() < 1) {
    throw Error("VGG: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("VGG: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  const InitPolicy init = vgg_init(o.init_weights());

  // Registration order = torchvision's attribute order = state_dict order.
  features = register_module("features", make_features(cfg, o.batch_norm(), init));
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(7));
  Sequential head;
  head->push_back(Linear(LinearOptions(512 * 7 * 7, 4096), init));
  head->push_back(ReLU());
  head->push_back(Dropout(o.dropout()));
  head->push_back(Linear(LinearOptions(4096, 4096), init));
  head->push_back(ReLU());
  head->push_back(Dropout(o.dropout()));
  head->push_back(Linear(LinearOptions(4096, o.num_classes()), init));
  classifier = register_module("classifier", head);
}

at::Tensor VGGImpl::forward(at::Tensor x) {
  x = features->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(1);
  return classifier->forward(x);
}

VGG vgg11(const ArchArgs& args) { return make("vgg11", "A", false, args); }
VGG vgg11_bn(const ArchArgs& args) { return make("vgg11_bn", "A", true, args); }
VGG vgg13(const ArchArgs& args) { return make("vgg13", "B", false, args); }
VGG vgg13_bn(const ArchArgs& args) { return make("vgg13_bn", "B", true, args); }
VGG vgg16(const ArchArgs& args) { return make("vgg16", "D", false, args); }
VGG vgg16_bn(const ArchArgs& args) { return make("vgg16_bn", "D", true, args); }
VGG vgg19(const ArchArgs& args) { return make("vgg19", "E", false, args); }
VGG vgg19_bn(const ArchArgs& args) { return make("vgg19_bn", "E", true, args); }

}  // namespace modelzoo::models
