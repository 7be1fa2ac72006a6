#include "modelzoo/segmentation/models.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/mobilenetv3.h"
#include "modelzoo/models/resnet.h"

namespace modelzoo::segmentation {
namespace {

namespace mm = modelzoo::models;

// F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).
at::Tensor upsample_to(const at::Tensor& x, int64_t h, int64_t w) {
  return at::upsample_bilinear2d(x, {h, w}, /*align_corners=*/false);
}

void check_input(const at::Tensor& x, const char* model) {
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) < 1 || x.size(3) < 1) {
    std::string shape = "[";
    for (int64_t i = 0; i < x.dim(); ++i) shape += (i ? ", " : "") + std::to_string(x.size(i));
    throw Error(std::string(model) + ": expected an N x 3 x H x W batch, got shape " + shape + "]");
  }
}

// A Conv2d -> BatchNorm2d -> ReLU Sequential (the ASPP branches, DeepLabHead's middle).
void push_cbr(mm::Sequential& s, mm::Conv2dOptions conv, const mm::InitPolicy& init) {
  const int64_t out = conv.out_channels();
  s->push_back(mm::Conv2d(conv.bias(false), init));
  s->push_back(mm::BatchNorm2d(mm::BatchNorm2dOptions(out), init));
  s->push_back(mm::ReLU());
}

// ASPPPooling: a Sequential in Python (children 0..3) whose forward
// upsamples the pooled features back to the input size.
class ASPPPoolingImpl : public mm::LayerImpl {
 public:
  ASPPPoolingImpl(int64_t in_channels, int64_t out_channels, const mm::InitPolicy& init)
      : mm::LayerImpl("ASPPPooling") {
    // The Python module is itself the Sequential: its layers are this
    // module's children "0".."3"; layers_ only chains them.
    layers_->push_back(mm::AdaptiveAvgPool2d(1));
    push_cbr(layers_, mm::Conv2dOptions(in_channels, out_channels, 1), init);
    for (std::size_t i = 0; i < layers_->size(); ++i) register_module(std::to_string(i), (*layers_)[i]);
  }
  at::Tensor forward(const at::Tensor& x) override {
    return upsample_to(layers_->forward(x), x.size(-2), x.size(-1));
  }

 private:
  mm::Sequential layers_;
};
TORCH_MODULE(ASPPPooling);

mm::InitPolicy head_init(bool enabled) { return mm::InitPolicy::torch_default(enabled); }

// Reads {"aux_loss": bool}; refuses unknown keys (a misspelt knob would
// otherwise silently build another model).
bool aux_loss_of(const mm::ArchArgs& args, const std::string& arch, bool allowed) {
  mm::check_extra_keys(args, arch, {"aux_loss", "image_size"});
  const bool aux = mm::extra_bool(args, arch, "aux_loss", false);
  if (aux && !allowed) throw Error(arch + ": this model does not use an auxiliary loss (aux_loss must be false)");
  if (args.num_classes < 1) {
    throw Error(arch + ": num_classes must be at least 1, got " + std::to_string(args.num_classes));
  }
  return aux;
}

// The dilated ResNet of torchvision's _fcn_resnet / _deeplabv3_resnet:
// replace_stride_with_dilation = [False, True, True], layers up to layer4.
IntermediateLayerGetter resnet_backbone(bool depth_101, bool aux, bool init) {
  mm::ResNetOptions o(mm::ResNetBlock::Bottleneck,
                      depth_101 ? std::vector<int64_t>{3, 4, 23, 3} : std::vector<int64_t>{3, 4, 6, 3});
  // fc is dropped by the layer getter; one output keeps it small.
  o.num_classes(1).init_weights(init).replace_stride_with_dilation({{false, true, true}});
  mm::ResNet r(o);
  std::vector<std::pair<std::string, mm::LayerPtr>> layers = {
      {"conv1", r->conv1.ptr()}, {"bn1", r->bn1.ptr()},       {"relu", r->relu.ptr()},
      {"maxpool", r->maxpool.ptr()}, {"layer1", r->layer1.ptr()}, {"layer2", r->layer2.ptr()},
      {"layer3", r->layer3.ptr()}, {"layer4", r->layer4.ptr()}};
  std::map<std::string, std::string> ret = {{"layer4", "out"}};
  if (aux) ret["layer3"] = "aux";
  return IntermediateLayerGetter(layers, ret);
}

// The dilated MobileNetV3-Large features and torchvision's stage indices:
// [0] + every block with stride > 1 (_is_cn) + [last].
struct MobileNetBackbone {
  std::vector<std::pair<std::string, mm::LayerPtr>> layers;
  std::vector<int64_t> stage_indices;
  std::vector<int64_t> out_channels;  // per features index
};

MobileNetBackbone mobilenet_backbone(bool init) {
  const mm::MobileNetV3Config cfg = mm::mobilenet_v3_config("mobilenet_v3_large", 1.0, false, true);
  mm::MobileNetV3 net(mm::MobileNetV3Options(cfg).num_classes(1).init_weights(init));
  MobileNetBackbone b;
  b.stage_indices.push_back(0);
  b.out_channels.push_back(net->features->at<mm::Conv2dNormActivationImpl>(0)->out_channels());
  for (std::size_t i = 0; i < cfg.blocks.size(); ++i) {
    if (cfg.blocks[i].stride > 1) b.stage_indices.push_back(static_cast<int64_t>(i) + 1);
    b.out_channels.push_back(cfg.blocks[i].out_channels);
  }
  const std::size_t last = net->features->size() - 1;
  b.stage_indices.push_back(static_cast<int64_t>(last));
  b.out_channels.push_back(net->features->at<mm::Conv2dNormActivationImpl>(last)->out_channels());
  for (std::size_t i = 0; i < net->features->size(); ++i) {
    b.layers.emplace_back(std::to_string(i), (*net->features)[i]);
  }
  return b;
}

Segmenter fcn_resnet(const std::string& arch, bool r101, const mm::ArchArgs& args) {
  const bool aux = aux_loss_of(args, arch, true);
  auto backbone = resnet_backbone(r101, aux, args.init_weights);
  const auto init = head_init(args.init_weights);
  auto classifier = fcn_head(2048, args.num_classes, init);
  mm::Sequential aux_head = aux ? fcn_head(1024, args.num_classes, init) : mm::Sequential(nullptr);
  return Segmenter(std::make_shared<SimpleSegmentationModelImpl>("FCN", backbone, classifier, aux_head));
}

Segmenter deeplabv3_resnet(const std::string& arch, bool r101, const mm::ArchArgs& args) {
  const bool aux = aux_loss_of(args, arch, true);
  auto backbone = resnet_backbone(r101, aux, args.init_weights);
  const auto init = head_init(args.init_weights);
  auto classifier = deeplab_head(2048, args.num_classes, init);
  mm::Sequential aux_head = aux ? fcn_head(1024, args.num_classes, init) : mm::Sequential(nullptr);
  return Segmenter(
      std::make_shared<SimpleSegmentationModelImpl>("DeepLabV3", backbone, classifier, aux_head));
}

}  // namespace

IntermediateLayerGetterImpl::IntermediateLayerGetterImpl(
    const std::vector<std::pair<std::string, models::LayerPtr>>& layers,
    std::map<std::string, std::string> return_layers)
    : torch::nn::Module("IntermediateLayerGetter"), return_layers_(std::move(return_layers)) {
  std::size_t remaining = return_layers_.size();
  for (const auto& [name, layer] : layers) {
    if (remaining == 0) break;
    layers_.emplace_back(name, register_module(name, layer));
    if (return_layers_.count(name)) --remaining;
  }
  if (remaining != 0) {
    for (const auto& [name, out] : return_layers_) {
      const bool found = std::any_of(layers_.begin(), layers_.end(), [&](const auto& l) { return l.first == name; });
      if (!found) throw Error("IntermediateLayerGetter: return layer '" + name + "' is not in the model");
    }
  }
}

std::map<std::string, at::Tensor> IntermediateLayerGetterImpl::forward(const at::Tensor& x) {
  std::map<std::string, at::Tensor> out;
  at::Tensor y = x;
  for (const auto& [name, layer] : layers_) {
    y = layer->forward(y);
    auto it = return_layers_.find(name);
    if (it != return_layers_.end()) out[it->second] = y;
  }
  return out;
}

models::Sequential fcn_head(int64_t in_channels, int64_t channels, const models::InitPolicy& init) {
  const int64_t inter = in_channels / 4;
  mm::Sequential s;
  push_cbr(s, mm::Conv2dOptions(in_channels, inter, 3).padding(1), init);
  s->push_back(mm::Dropout(0.1));
  s->push_back(mm::Conv2d(mm::Conv2dOptions(inter, channels, 1), init));
  return s;
}

ASPPImpl::ASPPImpl(int64_t in_channels, const std::vector<int64_t>& rates, int64_t out_channels,
                   const models::InitPolicy& init)
    : models::LayerImpl("ASPP") {
  convs = register_module("convs", mm::Sequential());
  mm::Sequential first;
  push_cbr(first, mm::Conv2dOptions(in_channels, out_channels, 1), init);
  convs->push_back(first);
  for (int64_t rate : rates) {
    mm::Sequential branch;  // ASPPConv
    push_cbr(branch, mm::Conv2dOptions(in_channels, out_channels, 3).padding(rate).dilation(rate), init);
    convs->push_back(branch);
  }
  convs->push_back(ASPPPooling(in_channels, out_channels, init));
  project = register_module("project", mm::Sequential());
  const int64_t branches = static_cast<int64_t>(convs->size());
  push_cbr(project, mm::Conv2dOptions(branches * out_channels, out_channels, 1), init);
  project->push_back(mm::Dropout(0.5));
}

at::Tensor ASPPImpl::forward(const at::Tensor& x) {
  std::vector<at::Tensor> res;
  res.reserve(convs->size());
  for (std::size_t i = 0; i < convs->size(); ++i) res.push_back((*convs)[i]->forward(x));
  return project->forward(at::cat(res, 1));
}

models::Sequential deeplab_head(int64_t in_channels, int64_t num_classes, const models::InitPolicy& init) {
  mm::Sequential s;
  s->push_back(ASPP(in_channels, std::vector<int64_t>{12, 24, 36}, 256, init));
  push_cbr(s, mm::Conv2dOptions(256, 256, 3).padding(1), init);
  s->push_back(mm::Conv2d(mm::Conv2dOptions(256, num_classes, 1), init));
  return s;
}

SimpleSegmentationModelImpl::SimpleSegmentationModelImpl(std::string name, IntermediateLayerGetter backbone_,
                                                         models::Sequential classifier_,
                                                         models::Sequential aux_classifier_)
    : SegmenterImpl(std::move(name)) {
  backbone = register_module("backbone", backbone_);
  classifier = register_module("classifier", classifier_);
  if (aux_classifier_) aux_classifier = register_module("aux_classifier", aux_classifier_);
}

SegmentationOutput SimpleSegmentationModelImpl::forward(const at::Tensor& x) {
  check_input(x, name().c_str());
  const int64_t h = x.size(2), w = x.size(3);
  auto features = backbone->forward(x);
  SegmentationOutput result;
  // The heads' outputs are channels-last on the optimized path; they are made
  // contiguous while small, so the masks come out in NCHW order on every path.
  result.out = upsample_to(classifier->forward(features.at("out")).contiguous(), h, w);
  if (aux_classifier) result.aux = upsample_to(aux_classifier->forward(features.at("aux")).contiguous(), h, w);
  return result;
}

LRASPPHeadImpl::LRASPPHeadImpl(int64_t low_channels, int64_t high_channels, int64_t num_classes,
                               int64_t inter_channels, const models::InitPolicy& init)
    : torch::nn::Module("LRASPPHead") {
  cbr = register_module("cbr", mm::Sequential());
  push_cbr(cbr, mm::Conv2dOptions(high_channels, inter_channels, 1), init);
  scale = register_module("scale", mm::Sequential());
  scale->push_back(mm::AdaptiveAvgPool2d(1));
  scale->push_back(mm::Conv2d(mm::Conv2dOptions(high_channels, inter_channels, 1).bias(false), init));
  scale->push_back(mm::Sigmoid());
  low_classifier = register_module("low_classifier", mm::Conv2d(mm::Conv2dOptions(low_channels, num_classes, 1), init));
  high_classifier =
      register_module("high_classifier", mm::Conv2d(mm::Conv2dOptions(inter_channels, num_classes, 1), init));
}

at::Tensor LRASPPHeadImpl::forward(const at::Tensor& low, const at::Tensor& high) {
  at::Tensor x = cbr->forward(high) * scale->forward(high);
  x = upsample_to(x, low.size(-2), low.size(-1));
  return low_classifier->forward(low) + high_classifier->forward(x);
}

LRASPPImpl::LRASPPImpl(IntermediateLayerGetter backbone_, LRASPPHead classifier_) : SegmenterImpl("LRASPP") {
  backbone = register_module("backbone", backbone_);
  classifier = register_module("classifier", classifier_);
}

SegmentationOutput LRASPPImpl::forward(const at::Tensor& x) {
  check_input(x, "LRASPP");
  auto features = backbone->forward(x);
  SegmentationOutput result;
  result.out =
      upsample_to(classifier->forward(features.at("low"), features.at("high")).contiguous(), x.size(2), x.size(3));
  return result;
}

Segmenter fcn_resnet50(const models::ArchArgs& args) { return fcn_resnet("fcn_resnet50", false, args); }
Segmenter fcn_resnet101(const models::ArchArgs& args) { return fcn_resnet("fcn_resnet101", true, args); }
Segmenter deeplabv3_resnet50(const models::ArchArgs& args) {
  return deeplabv3_resnet("deeplabv3_resnet50", false, args);
}
Segmenter deeplabv3_resnet101(const models::ArchArgs& args) {
  return deeplabv3_resnet("deeplabv3_resnet101", true, args);
}

Segmenter deeplabv3_mobilenet_v3_large(const models::ArchArgs& args) {
  const std::string arch = "deeplabv3_mobilenet_v3_large";
  const bool aux = aux_loss_of(args, arch, true);
  MobileNetBackbone b = mobilenet_backbone(args.init_weights);
  const int64_t out_pos = b.stage_indices.back();
  const int64_t aux_pos = b.stage_indices[b.stage_indices.size() - 4];
  std::map<std::string, std::string> ret = {{std::to_string(out_pos), "out"}};
  if (aux) ret[std::to_string(aux_pos)] = "aux";
  IntermediateLayerGetter backbone(b.layers, ret);
  const auto init = head_init(args.init_weights);
  auto classifier = deeplab_head(b.out_channels[out_pos], args.num_classes, init);
  mm::Sequential aux_head = aux ? fcn_head(b.out_channels[aux_pos], args.num_classes, init) : mm::Sequential(nullptr);
  return Segmenter(
      std::make_shared<SimpleSegmentationModelImpl>("DeepLabV3", backbone, classifier, aux_head));
}

Segmenter lraspp_mobilenet_v3_large(const models::ArchArgs& args) {
  const std::string arch = "lraspp_mobilenet_v3_large";
  aux_loss_of(args, arch, false);
  MobileNetBackbone b = mobilenet_backbone(args.init_weights);
  const int64_t high_pos = b.stage_indices.back();
  const int64_t low_pos = b.stage_indices[b.stage_indices.size() - 4];
  IntermediateLayerGetter backbone(
      b.layers, std::map<std::string, std::string>{{std::to_string(low_pos), "low"}, {std::to_string(high_pos), "high"}});
  LRASPPHead head(b.out_channels[low_pos], b.out_channels[high_pos], args.num_classes, 128,
                  head_init(args.init_weights));
  return Segmenter(std::make_shared<LRASPPImpl>(backbone, head));
}

const std::vector<SegmentationArch>& segmentation_architectures() {
  static const std::vector<SegmentationArch> table = [] {
    const nlohmann::json aux = {{"aux_loss", true}};
    std::vector<SegmentationArch> t = {
        {"deeplabv3_mobilenet_v3_large", deeplabv3_mobilenet_v3_large, aux},
        {"deeplabv3_resnet101", deeplabv3_resnet101, aux},
        {"deeplabv3_resnet50", deeplabv3_resnet50, aux},
        {"fcn_resnet101", fcn_resnet101, aux},
        {"fcn_resnet50", fcn_resnet50, aux},
        {"lraspp_mobilenet_v3_large", lraspp_mobilenet_v3_large, nlohmann::json::object()},
    };
    std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return t;
  }();
  return table;
}

const SegmentationArch* find_segmentation_architecture(const std::string& name) {
  for (const auto& a : segmentation_architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Segmenter build_segmenter(const std::string& name, const models::ArchArgs& args) {
  const SegmentationArch* arch = find_segmentation_architecture(name);
  if (arch == nullptr) {
    std::string known;
    for (const auto& a : segmentation_architectures()) known += (known.empty() ? "" : ", ") + a.name;
    throw Error("unknown segmentation architecture '" + name + "' (known: " + known + ")");
  }
  return arch->build(args);
}

}  // namespace modelzoo::segmentation
