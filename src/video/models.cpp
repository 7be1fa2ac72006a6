#include "modelzoo/video/models.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::video {
namespace {

namespace mm = modelzoo::models;

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

torch::ExpandingArray<3> ea(const std::array<int64_t, 3>& v) { return torch::ExpandingArray<3>(at::IntArrayRef(v)); }

void check_clips(const at::Tensor& x, const char* model) {
  if (x.dim() != 5 || x.size(1) != 3) {
    throw Error(std::string(model) + ": expected an N x 3 x T x H x W batch of clips, got shape " + shape_of(x));
  }
}

// VideoResNet.__init__'s loop: kaiming_normal_(fan_out, relu) Conv3d, zero
// biases, ones/zeros BatchNorm3d, normal(0, 0.01) Linear with zero bias.
mm::InitPolicy video_resnet_init(bool enabled) {
  mm::InitPolicy p = mm::InitPolicy::torch_default(enabled);
  p.conv_weight = mm::ParamInit::kaiming_normal(mm::FanMode::FanOut, mm::Nonlinearity::ReLU);
  p.conv_bias = mm::ParamInit::zeros();
  p.linear_weight = mm::ParamInit::normal(0.0, 0.01);
  p.linear_bias = mm::ParamInit::zeros();
  return p;
}

// One conv_builder(in, out, midplanes, stride) of torchvision, appended to `s`
// (Conv2Plus1D is itself a Sequential, so it is appended as one child).
void push_conv(mm::Sequential& s, VideoConv kind, int64_t in, int64_t out, int64_t mid, int64_t stride,
               const mm::InitPolicy& init) {
  switch (kind) {
    case VideoConv::Simple3d:
      s->push_back(Conv3d(Conv3dOptions(in, out, 3).stride(stride).padding(1).bias(false), init));
      return;
    case VideoConv::NoTemporal:
      s->push_back(Conv3d(Conv3dOptions(in, out, {1, 3, 3}).stride({1, stride, stride}).padding({0, 1, 1}).bias(false),
                          init));
      return;
    case VideoConv::TwoPlusOne: {
      mm::Sequential c;
      c->push_back(Conv3d(Conv3dOptions(in, mid, {1, 3, 3}).stride({1, stride, stride}).padding({0, 1, 1}).bias(false),
                          init));
      c->push_back(BatchNorm3d(mid, init));
      c->push_back(mm::ReLU());
      c->push_back(Conv3d(Conv3dOptions(mid, out, {3, 1, 1}).stride({stride, 1, 1}).padding({1, 0, 0}).bias(false),
                          init));
      s->push_back(c);
      return;
    }
  }
}

std::array<int64_t, 3> downsample_stride(VideoConv kind, int64_t stride) {
  if (kind == VideoConv::NoTemporal) return {1, stride, stride};
  return {stride, stride, stride};
}

// Conv3dNormActivation(in, out, kernel, stride, padding) with S3D's BatchNorm3d(eps=0.001, momentum=0.001).
mm::Sequential conv_bn_relu(int64_t in, int64_t out, std::array<int64_t, 3> kernel, std::array<int64_t, 3> stride,
                            std::array<int64_t, 3> padding, const mm::InitPolicy& init) {
  mm::Sequential s;
  s->push_back(Conv3d(Conv3dOptions(in, out, ea(kernel)).stride(ea(stride)).padding(ea(padding)).bias(false), init));
  s->push_back(BatchNorm3d(out, init, 0.001, 0.001));
  s->push_back(mm::ReLU());
  return s;
}

mm::Sequential pointwise(int64_t in, int64_t out, const mm::InitPolicy& init) {
  return conv_bn_relu(in, out, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, init);
}

// TemporalSeparableConv: (1, k, k) spatial then (k, 1, 1) temporal.
mm::Sequential temporal_separable(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                  const mm::InitPolicy& init) {
  mm::Sequential s;
  s->push_back(conv_bn_relu(in, out, {1, k, k}, {1, stride, stride}, {0, pad, pad}, init));
  s->push_back(conv_bn_relu(out, out, {k, 1, 1}, {stride, 1, 1}, {pad, 0, 0}, init));
  return s;
}

// SepInceptionBlock3D: four branches, concatenated.
class SepInceptionBlock3DImpl : public mm::LayerImpl {
 public:
  SepInceptionBlock3DImpl(int64_t in, int64_t b0_out, int64_t b1_mid, int64_t b1_out, int64_t b2_mid, int64_t b2_out,
                          int64_t b3_out, const mm::InitPolicy& init)
      : mm::LayerImpl("SepInceptionBlock3D") {
    branch0 = register_module("branch0", pointwise(in, b0_out, init));
    branch1 = register_module("branch1", mm::Sequential());
    branch1->push_back(pointwise(in, b1_mid, init));
    branch1->push_back(temporal_separable(b1_mid, b1_out, 3, 1, 1, init));
    branch2 = register_module("branch2", mm::Sequential());
    branch2->push_back(pointwise(in, b2_mid, init));
    branch2->push_back(temporal_separable(b2_mid, b2_out, 3, 1, 1, init));
    branch3 = register_module("branch3", mm::Sequential());
    branch3->push_back(MaxPool3d(Pool3dOptions(3).stride(1).padding(1)));
    branch3->push_back(pointwise(in, b3_out, init));
  }
  at::Tensor forward(const at::Tensor& x) override {
    return at::cat({branch0->forward(x), branch1->forward(x), branch2->forward(x), branch3->forward(x)}, 1);
  }
  mm::Sequential branch0{nullptr}, branch1{nullptr}, branch2{nullptr}, branch3{nullptr};
};
TORCH_MODULE(SepInceptionBlock3D);

void check_classes(int64_t n, const char* arch) {
  if (n < 1) throw Error(std::string(arch) + ": num_classes must be at least 1, got " + std::to_string(n));
}

VideoClassifier make_resnet(const char* arch, std::vector<VideoConv> convs, bool r2plus1d_stem,
                            const mm::ArchArgs& args) {
  mm::check_extra_keys(args, arch, {"image_size"});
  return VideoClassifier(std::make_shared<VideoResNetImpl>(convs, std::vector<int64_t>{2, 2, 2, 2}, r2plus1d_stem,
                                                           args.num_classes, args.init_weights));
}

}  // namespace

VideoBasicBlockImpl::VideoBasicBlockImpl(int64_t inplanes, int64_t planes, VideoConv conv, int64_t stride,
                                         models::Sequential downsample_, const models::InitPolicy& init)
    : models::LayerImpl("BasicBlock") {
  const int64_t midplanes = (inplanes * planes * 3 * 3 * 3) / (inplanes * 3 * 3 + 3 * planes);
  conv1 = register_module("conv1", mm::Sequential());
  push_conv(conv1, conv, inplanes, planes, midplanes, stride, init);
  conv1->push_back(BatchNorm3d(planes, init));
  conv1->push_back(mm::ReLU());
  conv2 = register_module("conv2", mm::Sequential());
  push_conv(conv2, conv, planes, planes, midplanes, 1, init);
  conv2->push_back(BatchNorm3d(planes, init));
  if (downsample_) downsample = register_module("downsample", downsample_);
}

at::Tensor VideoBasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = conv2->forward(conv1->forward(x));
  const at::Tensor residual = downsample ? downsample->forward(x) : x;
  if (!out.sizes().equals(residual.sizes())) {
    throw Error("video BasicBlock: residual branch " + shape_of(out) + " and identity " + shape_of(residual) + " differ");
  }
  return out.add_(residual).relu_();
}

VideoResNetImpl::VideoResNetImpl(const std::vector<VideoConv>& convs, const std::vector<int64_t>& layers,
                                 bool r2plus1d_stem, int64_t num_classes, bool init_weights)
    : VideoClassifierImpl("VideoResNet") {
  check_classes(num_classes, "VideoResNet");
  if (convs.size() != 4 || layers.size() != 4) throw Error("VideoResNet: expected four stages");
  const mm::InitPolicy init = video_resnet_init(init_weights);
  stem = register_module("stem", mm::Sequential());
  if (r2plus1d_stem) {
    stem->push_back(Conv3d(Conv3dOptions(3, 45, {1, 7, 7}).stride({1, 2, 2}).padding({0, 3, 3}).bias(false), init));
    stem->push_back(BatchNorm3d(45, init));
    stem->push_back(mm::ReLU());
    stem->push_back(Conv3d(Conv3dOptions(45, 64, {3, 1, 1}).stride(1).padding({1, 0, 0}).bias(false), init));
    stem->push_back(BatchNorm3d(64, init));
    stem->push_back(mm::ReLU());
  } else {
    stem->push_back(Conv3d(Conv3dOptions(3, 64, {3, 7, 7}).stride({1, 2, 2}).padding({1, 3, 3}).bias(false), init));
    stem->push_back(BatchNorm3d(64, init));
    stem->push_back(mm::ReLU());
  }
  int64_t inplanes = 64;
  auto make_layer = [&](VideoConv conv, int64_t planes, int64_t blocks, int64_t stride) {
    mm::Sequential layer;
    mm::Sequential ds(nullptr);
    if (stride != 1 || inplanes != planes) {
      ds = mm::Sequential();
      ds->push_back(Conv3d(Conv3dOptions(inplanes, planes, 1).stride(ea(downsample_stride(conv, stride))).bias(false), init));
      ds->push_back(BatchNorm3d(planes, init));
    }
    layer->push_back(VideoBasicBlock(inplanes, planes, conv, stride, ds, init));
    inplanes = planes;
    for (int64_t i = 1; i < blocks; ++i) layer->push_back(VideoBasicBlock(inplanes, planes, conv, 1, nullptr, init));
    return layer;
  };
  layer1 = register_module("layer1", make_layer(convs[0], 64, layers[0], 1));
  layer2 = register_module("layer2", make_layer(convs[1], 128, layers[1], 2));
  layer3 = register_module("layer3", make_layer(convs[2], 256, layers[2], 2));
  layer4 = register_module("layer4", make_layer(convs[3], 512, layers[3], 2));
  avgpool = register_module("avgpool", GlobalAvgPool3d());
  fc = register_module("fc", mm::Linear(mm::LinearOptions(512, num_classes), init));
}

at::Tensor VideoResNetImpl::forward(const at::Tensor& clips) {
  check_clips(clips, "VideoResNet");
  at::Tensor x = stem->forward(clips);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return fc->forward(avgpool->forward(x).flatten(1));
}

S3DImpl::S3DImpl(int64_t num_classes, double dropout, bool init_weights) : VideoClassifierImpl("S3D") {
  check_classes(num_classes, "S3D");
  const mm::InitPolicy init = mm::InitPolicy::torch_default(init_weights);
  features = register_module("features", mm::Sequential());
  auto& f = features;
  auto pool = [](std::array<int64_t, 3> k, std::array<int64_t, 3> s, std::array<int64_t, 3> p) {
    return MaxPool3d(Pool3dOptions(ea(k)).stride(ea(s)).padding(ea(p)));
  };
  f->push_back(temporal_separable(3, 64, 7, 2, 3, init));
  f->push_back(pool({1, 3, 3}, {1, 2, 2}, {0, 1, 1}));
  f->push_back(pointwise(64, 64, init));
  f->push_back(temporal_separable(64, 192, 3, 1, 1, init));
  f->push_back(pool({1, 3, 3}, {1, 2, 2}, {0, 1, 1}));
  f->push_back(SepInceptionBlock3D(192, 64, 96, 128, 16, 32, 32, init));
  f->push_back(SepInceptionBlock3D(256, 128, 128, 192, 32, 96, 64, init));
  f->push_back(pool({3, 3, 3}, {2, 2, 2}, {1, 1, 1}));
  f->push_back(SepInceptionBlock3D(480, 192, 96, 208, 16, 48, 64, init));
  f->push_back(SepInceptionBlock3D(512, 160, 112, 224, 24, 64, 64, init));
  f->push_back(SepInceptionBlock3D(512, 128, 128, 256, 24, 64, 64, init));
  f->push_back(SepInceptionBlock3D(512, 112, 144, 288, 32, 64, 64, init));
  f->push_back(SepInceptionBlock3D(528, 256, 160, 320, 32, 128, 128, init));
  f->push_back(pool({2, 2, 2}, {2, 2, 2}, {0, 0, 0}));
  f->push_back(SepInceptionBlock3D(832, 256, 160, 320, 32, 128, 128, init));
  f->push_back(SepInceptionBlock3D(832, 384, 192, 384, 48, 128, 128, init));
  avgpool = register_module("avgpool", AvgPool3d(Pool3dOptions({2, 7, 7}).stride(1)));
  classifier = register_module("classifier", mm::Sequential());
  classifier->push_back(mm::Dropout(dropout));
  classifier->push_back(Conv3d(Conv3dOptions(1024, num_classes, 1).bias(true), init));
}

at::Tensor S3DImpl::forward(const at::Tensor& clips) {
  check_clips(clips, "S3D");
  at::Tensor x = classifier->forward(avgpool->forward(features->forward(clips)));
  return x.mean({2, 3, 4});
}

VideoClassifier r3d_18(const models::ArchArgs& args) {
  return make_resnet("r3d_18", {VideoConv::Simple3d, VideoConv::Simple3d, VideoConv::Simple3d, VideoConv::Simple3d},
                     false, args);
}
VideoClassifier mc3_18(const models::ArchArgs& args) {
  return make_resnet("mc3_18", {VideoConv::Simple3d, VideoConv::NoTemporal, VideoConv::NoTemporal, VideoConv::NoTemporal},
                     false, args);
}
VideoClassifier r2plus1d_18(const models::ArchArgs& args) {
  return make_resnet("r2plus1d_18",
                     {VideoConv::TwoPlusOne, VideoConv::TwoPlusOne, VideoConv::TwoPlusOne, VideoConv::TwoPlusOne}, true,
                     args);
}
VideoClassifier s3d(const models::ArchArgs& args) {
  mm::check_extra_keys(args, "s3d", {"dropout", "image_size"});
  const double dropout = mm::extra_number(args, "s3d", "dropout", 0.2);
  return VideoClassifier(std::make_shared<S3DImpl>(args.num_classes, dropout, args.init_weights));
}

const std::vector<VideoArch>& video_architectures() {
  static const std::vector<VideoArch> table = [] {
    std::vector<VideoArch> t = {{"mc3_18", mc3_18},       {"mvit_v1_b", mvit_v1_b}, {"mvit_v2_s", mvit_v2_s},
                                {"r2plus1d_18", r2plus1d_18}, {"r3d_18", r3d_18},       {"s3d", s3d}};
    std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return t;
  }();
  return table;
}

const VideoArch* find_video_architecture(const std::string& name) {
  for (const auto& a : video_architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

VideoClassifier build_video_classifier(const std::string& name, const models::ArchArgs& args) {
  const VideoArch* arch = find_video_architecture(name);
  if (arch == nullptr) {
    std::string known;
    for (const auto& a : video_architectures()) known += (known.empty() ? "" : ", ") + a.name;
    throw Error("unknown video architecture '" + name + "' (known: " + known + ")");
  }
  return arch->build(args);
}

}  // namespace modelzoo::video
