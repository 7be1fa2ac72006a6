#include "modelzoo/models/densenet.h"

#include <sstream>

#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/relu.h>

#include "models/arch_extra.h"
#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision's DenseNet.__init__ loop: kaiming_normal_ (a=0, fan_in,
// leaky_relu) convolutions, BatchNorm ones/zeros, zero Linear bias; the Linear
// weight keeps nn.Linear's default.
InitPolicy densenet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal();
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  p.linear_bias = ParamInit::zeros();
  return p;
}

void require_positive(const char* field, int64_t v) {
  if (v < 1) throw Error(std::string("DenseNet: ") + field + " must be at least 1, got " + std::to_string(v));
}

}  // namespace

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

DenseLayerImpl::DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                               double drop_rate, const InitPolicy& init)
    : torch::nn::Module("_DenseLayer"), drop_rate_(drop_rate) {
  const int64_t inner = bn_size * growth_rate;
  norm1 = register_module("norm1", BatchNorm2d(num_input_features, init));
  relu1 = register_module("relu1", ReLU());
  conv1 = register_module("conv1", Conv2d(Conv2dOptions(num_input_features, inner, 1).bias(false), init));
  norm2 = register_module("norm2", BatchNorm2d(inner, init));
  relu2 = register_module("relu2", ReLU());
  conv2 = register_module(
      "conv2", Conv2d(Conv2dOptions(inner, growth_rate, 3).padding(1).bias(false), init));
}

at::Tensor DenseLayerImpl::forward(const std::vector<at::Tensor>& inputs) {
  const at::Tensor concatenated = inputs.size() == 1 ? inputs.front() : at::cat(inputs, 1);
  const at::Tensor bottleneck = conv1->forward(relu1->forward(norm1->forward(concatenated)));
  at::Tensor out = conv2->forward(relu2->forward(norm2->forward(bottleneck)));
  if (drop_rate_ > 0) out = at::dropout(out, drop_rate_, is_training());
  return out;
}

DenseBlockImpl::DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                               int64_t growth_rate, double drop_rate, const InitPolicy& init)
    : LayerImpl("_DenseBlock") {
  for (int64_t i = 0; i < num_layers; ++i) {
    layers_.push_back(register_module(
        "denselayer" + std::to_string(i + 1),
        DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate, init)));
  }
}

at::Tensor DenseBlockImpl::forward(const at::Tensor& x) {
  std::vector<at::Tensor> features{x};
  features.reserve(layers_.size() + 1);
  for (auto& layer : layers_) features.push_back(layer->forward(features));
  return at::cat(features, 1);
}

TransitionImpl::TransitionImpl(int64_t num_input_features, int64_t num_output_features,
                               const InitPolicy& init)
    : LayerImpl("_Transition") {
  norm = register_module("norm", BatchNorm2d(num_input_features, init));
  relu = register_module("relu", ReLU());
  conv = register_module(
      "conv", Conv2d(Conv2dOptions(num_input_features, num_output_features, 1).bias(false), init));
  pool = register_module("pool", AvgPool2d(AvgPool2dOptions(2).stride(2)));
}

at::Tensor TransitionImpl::forward(const at::Tensor& x) {
  return pool->forward(conv->forward(relu->forward(norm->forward(x))));
}

// ---------------------------------------------------------------------------
// DenseNet
// ---------------------------------------------------------------------------

DenseNetImpl::DenseNetImpl(const DenseNetOptions& o) : options_(o) {
  require_positive("growth_rate", o.growth_rate());
  require_positive("num_init_features", o.num_init_features());
  require_positive("bn_size", o.bn_size());
  require_positive("num_classes", o.num_classes());
  if (o.block_config().empty()) throw Error("DenseNet: block_config must hold at least one block");
  for (int64_t n : o.block_config()) require_positive("every entry of block_config", n);
  if (o.block_config().size() > 20) {
    throw Error("DenseNet: block_config holds " + std::to_string(o.block_config().size()) +
                " blocks; at most 20 are supported (each halves the resolution)");
  }
  if (!(o.drop_rate() >= 0.0 && o.drop_rate() <= 1.0)) {
    throw Error("DenseNet: drop_rate must be in [0, 1], got " + std::to_string(o.drop_rate()));
  }
  const InitPolicy init = densenet_init(o.init_weights());

  Sequential f;
  f->push_back("conv0", Conv2d(Conv2dOptions(3, o.num_init_features(), 7).stride(2).padding(3).bias(false), init));
  f->push_back("norm0", BatchNorm2d(o.num_init_features(), init));
  f->push_back("relu0", ReLU());
  f->push_back("pool0", MaxPool2d(MaxPool2dOptions(3).stride(2).padding(1)));
  int64_t num_features = o.num_init_features();
  const auto& blocks = o.block_config();
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    f->push_back("denseblock" + std::to_string(i + 1),
                 DenseBlock(blocks[i], num_features, o.bn_size(), o.growth_rate(), o.drop_rate(), init));
    num_features += blocks[i] * o.growth_rate();
    if (i + 1 != blocks.size()) {
      f->push_back("transition" + std::to_string(i + 1), Transition(num_features, num_features / 2, init));
      num_features /= 2;
    }
  }
  f->push_back("norm5", BatchNorm2d(num_features, init));
  features = register_module("features", f);
  classifier = register_module("classifier", Linear(LinearOptions(num_features, o.num_classes()), init));
}

int64_t DenseNetImpl::min_input_size() const {
  // conv0 and pool0 halve (with padding), each transition halves (floor):
  // H >= 2^(transitions + 2) - 3.
  const auto transitions = static_cast<int64_t>(options_.block_config().size()) - 1;
  return (int64_t{1} << (transitions + 2)) - 3;
}

at::Tensor DenseNetImpl::forward(at::Tensor x) {
  const int64_t min = min_input_size();
  if (x.dim() != 4 || x.size(2) < min || x.size(3) < min) {
    std::ostringstream os;
    os << "DenseNet: expected input of shape N x 3 x H x W with H, W >= " << min << ", got "
       << x.sizes();
    throw Error(os.str());
  }
  at::Tensor out = at::relu(features->forward(x));
  out = at::adaptive_avg_pool2d(out, {1, 1}).flatten(1);
  return classifier->forward(out);
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> densenet_key_renames() {
  return {{R"((.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var)))",
           "$1$2"}};
}

namespace {

DenseNet make(const std::string& arch, int64_t growth_rate, DenseNetBlockConfig blocks,
              int64_t num_init_features, const ArchArgs& args) {
  check_extra_keys(args, arch, {"drop_rate", "bn_size", "memory_efficient", "image_size"});
  if (extra_bool(args, arch, "memory_efficient", false)) {
    throw Error(arch + ": extra argument 'memory_efficient' = true (gradient checkpointing) is not "
                "supported; leave it false (outputs are the same either way)");
  }
  detail::extra_int(args, arch, "image_size", 224);  // validated, otherwise unused
  return DenseNet(DenseNetOptions()
                      .growth_rate(growth_rate)
                      .block_config(std::move(blocks))
                      .num_init_features(num_init_features)
                      .bn_size(detail::extra_int(args, arch, "bn_size", 4))
                      .drop_rate(extra_number(args, arch, "drop_rate", 0.0))
                      .num_classes(args.num_classes)
                      .init_weights(args.init_weights));
}

}  // namespace

DenseNet densenet121(const ArchArgs& a) { return make("densenet121", 32, {6, 12, 24, 16}, 64, a); }
DenseNet densenet161(const ArchArgs& a) { return make("densenet161", 48, {6, 12, 36, 24}, 96, a); }
DenseNet densenet169(const ArchArgs& a) { return make("densenet169", 32, {6, 12, 32, 32}, 64, a); }
DenseNet densenet201(const ArchArgs& a) { return make("densenet201", 32, {6, 12, 48, 32}, 64, a); }

}  // namespace modelzoo::models
