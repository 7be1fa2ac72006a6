#include "modelzoo/detection/ssd.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "detection/args.h"
#include "modelzoo/detection/backbones.h"
#include "modelzoo/error.h"
#include "modelzoo/models/blocks.h"
#include "modelzoo/models/mobilenetv3.h"
#include "modelzoo/ops/boxes.h"

namespace modelzoo::detection {
namespace {

using models::Conv2d;
using models::Conv2dOptions;
using models::InitPolicy;
using models::ParamInit;

InitPolicy xavier(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::xavier_uniform();
  p.conv_bias = ParamInit::zeros();
  return p;
}

// N x (A*C) x H x W -> N x (H*W*A) x C.
at::Tensor flatten_level(const at::Tensor& t, int64_t c) {
  const int64_t n = t.size(0), h = t.size(2), w = t.size(3);
  return t.view({n, -1, c, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, c});
}

// The classification and regression heads of every level, flattened to
// N x (H*W*A) x C and N x (H*W*A) x 4.
template <typename Head>
std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> apply_heads(const ops::FeatureMaps& feats,
                                                                        std::vector<Head>& cls_heads,
                                                                        std::vector<Head>& reg_heads,
                                                                        int64_t num_classes) {
  std::vector<at::Tensor> cls, reg;
  for (std::size_t i = 0; i < feats.size(); ++i) {
    cls.push_back(flatten_level(cls_heads[i]->forward(feats[i].second), num_classes));
    reg.push_back(flatten_level(reg_heads[i]->forward(feats[i].second), 4));
  }
  return {cls, reg};
}

// The heads' outputs of every level -> detections in input pixels (and the trace).
std::vector<Detection> finish(const ImageList& batch, const ops::FeatureMaps& feats, const std::vector<at::Tensor>& cls,
                              const std::vector<at::Tensor>& reg, const ops::DefaultBoxGenerator& anchor_gen,
                              const SSDOptions& options, const GeneralizedRCNNTransform& transform,
                              const std::vector<std::pair<int64_t, int64_t>>& original, DetectionTrace* trace) {
  std::vector<at::Tensor> maps;
  for (const auto& f : feats) maps.push_back(f.second);
  const std::vector<at::Tensor> anchors =
      anchor_gen({batch.tensors.size(-2), batch.tensors.size(-1)}, maps, batch.tensors.size(0));
  std::vector<Detection> dets = ssd_postprocess(at::cat(cls, 1), at::cat(reg, 1), anchors, batch.image_sizes, options);
  if (trace) {
    trace->batch = batch.tensors;
    trace->image_sizes = batch.image_sizes;
    trace->features = feats;
  }
  transform.postprocess(dets, batch.image_sizes, original);
  return dets;
}

std::vector<std::pair<int64_t, int64_t>> sizes_of(const std::vector<at::Tensor>& images) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& im : images) out.emplace_back(im.size(-2), im.size(-1));
  return out;
}

TransformOptions ssd_transform() {
  TransformOptions t;
  t.min_size = 300;
  t.max_size = 300;
  t.image_mean = {0.48235, 0.45882, 0.40784};
  t.image_std = {1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0};
  t.size_divisible = 1;
  t.fixed_size = std::make_pair<int64_t, int64_t>(300, 300);
  return t;
}

}  // namespace

std::vector<Detection> ssd_postprocess(const at::Tensor& cls_logits, const at::Tensor& regression,
                                       const std::vector<at::Tensor>& anchors,
                                       const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                       const SSDOptions& options) {
  const at::Tensor scores_all = at::softmax(cls_logits, -1);
  const int64_t n = cls_logits.size(0);
  const ops::BoxCoder coder({10.0, 10.0, 5.0, 5.0});
  std::vector<Detection> dets;
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor boxes = ops::clip_boxes_to_image(coder.decode_single(regression[i], anchors[static_cast<std::size_t>(i)]),
                                                      image_sizes[static_cast<std::size_t>(i)]);
    const at::Tensor scores = scores_all[i];
    std::vector<at::Tensor> all_boxes, all_scores, all_labels;
    for (int64_t label = 1; label < scores.size(-1); ++label) {
      at::Tensor score = scores.select(1, label);
      const at::Tensor keep = score.gt(options.score_thresh);
      score = score.index({keep});
      at::Tensor box = boxes.index({keep});
      auto [top, idx] = score.topk(std::min(options.topk_candidates, score.size(0)));
      all_boxes.push_back(box.index_select(0, idx));
      all_scores.push_back(top);
      all_labels.push_back(at::full_like(top, label, top.options().dtype(at::kLong)));
    }
    const at::Tensor b = at::cat(all_boxes, 0), s = at::cat(all_scores, 0), l = at::cat(all_labels, 0);
    at::Tensor keep = ops::batched_nms(b, s, l, options.nms_thresh);
    keep = keep.narrow(0, 0, std::min(options.detections_per_img, keep.size(0)));
    Detection d;
    d.boxes = b.index_select(0, keep);
    d.scores = s.index_select(0, keep);
    d.labels = l.index_select(0, keep);
    dets.push_back(std::move(d));
  }
  return dets;
}

SSDImpl::SSDImpl(int64_t num_classes, SSDOptions options, TransformOptions transform, const InitPolicy& policy)
    : DetectorImpl("SSD"),
      num_classes_(num_classes),
      options_(options),
      transform_(transform),
      anchors_({{2}, {2, 3}, {2, 3}, {2, 3}, {2}, {2}}, 0.15, 0.9, {0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05},
               std::vector<int64_t>{8, 16, 32, 64, 100, 300}) {
  backbone = register_module("backbone", std::make_shared<torch::nn::Module>("SSDFeatureExtractorVGG"));
  InitPolicy vgg = policy;
  vgg.conv_weight = ParamInit::kaiming_normal(models::FanMode::FanOut, models::Nonlinearity::ReLU);
  vgg.conv_bias = ParamInit::zeros();
  // VGG-16 (cfg D) layers 0..29, split at maxpool4 (index 23); maxpool3 (16) rounds up.
  const int64_t cfg[] = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512};
  std::vector<models::LayerPtr> layers;
  int64_t in = 3;
  for (int64_t c : cfg) {
    if (c < 0) {
      models::MaxPool2dOptions o(2);
      if (layers.size() == 16) o.ceil_mode(true);
      layers.push_back(models::MaxPool2d(o).ptr());
    } else {
      layers.push_back(Conv2d(Conv2dOptions(in, c, 3).padding(1), vgg).ptr());
      layers.push_back(models::ReLU().ptr());
      in = c;
    }
  }
  features = models::Sequential();
  for (std::size_t i = 0; i < 23; ++i) features->push_back(layers[i]);
  backbone->register_module("features", features);
  scale_weight = backbone->register_parameter("scale_weight", at::full({512}, 20.0));
  const InitPolicy x = xavier(policy);
  auto block = [&](std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>> convs) {
    models::Sequential s;
    for (const auto& [ci, co, k, pad, stride] : convs) {
      s->push_back(Conv2d(Conv2dOptions(ci, co, k).padding(pad).stride(stride), x));
      s->push_back(models::ReLU());
    }
    return s;
  };
  models::Sequential first;
  for (std::size_t i = 23; i < layers.size(); ++i) first->push_back(layers[i]);
  models::Sequential fc;
  fc->push_back(models::MaxPool2d(models::MaxPool2dOptions(3).stride(1).padding(1)));
  fc->push_back(Conv2d(Conv2dOptions(512, 1024, 3).padding(6).dilation(6), x));
  fc->push_back(models::ReLU());
  fc->push_back(Conv2d(Conv2dOptions(1024, 1024, 1), x));
  fc->push_back(models::ReLU());
  first->push_back(fc);
  extra = {first,
           block({{1024, 256, 1, 0, 1}, {256, 512, 3, 1, 2}}),
           block({{512, 128, 1, 0, 1}, {128, 256, 3, 1, 2}}),
           block({{256, 128, 1, 0, 1}, {128, 256, 3, 0, 1}}),
           block({{256, 128, 1, 0, 1}, {128, 256, 3, 0, 1}})};
  auto extra_list = backbone->register_module("extra", std::make_shared<torch::nn::Module>("ModuleList"));
  for (std::size_t i = 0; i < extra.size(); ++i) extra_list->register_module(std::to_string(i), extra[i]);

  head = register_module("head", std::make_shared<torch::nn::Module>("SSDHead"));
  auto cls = head->register_module("classification_head", std::make_shared<torch::nn::Module>("SSDClassificationHead"))
                 ->register_module("module_list", std::make_shared<torch::nn::Module>("ModuleList"));
  auto reg = head->register_module("regression_head", std::make_shared<torch::nn::Module>("SSDRegressionHead"))
                 ->register_module("module_list", std::make_shared<torch::nn::Module>("ModuleList"));
  const int64_t channels[] = {512, 1024, 512, 256, 256, 256};
  const auto per_location = anchors_.num_anchors_per_location();
  for (std::size_t i = 0; i < 6; ++i) {
    cls_logits.push_back(cls->register_module(
        std::to_string(i), Conv2d(Conv2dOptions(channels[i], num_classes * per_location[i], 3).padding(1), x)));
    bbox_reg.push_back(reg->register_module(std::to_string(i),
                                            Conv2d(Conv2dOptions(channels[i], 4 * per_location[i], 3).padding(1), x)));
  }
}

std::vector<Detection> SSDImpl::detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) {
  check_inputs(images);
  c10::NoGradGuard no_grad;
  const ImageList batch = transform_(images);
  at::Tensor x = features->forward(batch.tensors);
  // F.normalize(x): x / max(||x||_2 over channels, 1e-12).
  const at::Tensor denom = x.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12).expand_as(x);
  ops::FeatureMaps feats = {{"0", scale_weight.view({1, -1, 1, 1}) * (x / denom)}};
  for (std::size_t i = 0; i < extra.size(); ++i) {
    x = extra[i]->forward(x);
    feats.emplace_back(std::to_string(i + 1), x);
  }
  const auto [cls, reg] = apply_heads(feats, cls_logits, bbox_reg, num_classes_);
  return finish(batch, feats, cls, reg, anchors_, options_, transform_, sizes_of(images), trace);
}

Detector ssd300_vgg16(const DetectorArgs& args) {
  const detail::Args a(args, "ssd300_vgg16",
                       {"score_thresh", "nms_thresh", "detections_per_img", "topk_candidates",
                        "trainable_backbone_layers"});
  if (args.num_classes < 2) throw Error("ssd300_vgg16: num_classes must be at least 2 (background + 1)");
  SSDOptions o;
  o.score_thresh = a.number("score_thresh", o.score_thresh);
  o.nms_thresh = a.number("nms_thresh", o.nms_thresh);
  o.detections_per_img = a.integer("detections_per_img", o.detections_per_img);
  o.topk_candidates = a.integer("topk_candidates", o.topk_candidates);
  auto model = std::make_shared<SSDImpl>(args.num_classes, o, ssd_transform(),
                                         InitPolicy::torch_default(args.init_weights));
  model->eval();
  return Detector(model);
}

// ---------------------------------------------------------------------------
// SSDlite on MobileNet v3 Large
// ---------------------------------------------------------------------------

namespace {

// torchvision's _normal_init: N(0, 0.03) convolution weights, zero biases.
InitPolicy ssdlite_init(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::normal(0.0, 0.03);
  p.conv_bias = ParamInit::zeros();
  return p;
}

models::Conv2dNormActivation relu6_block(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                         const models::NormFactory& norm, const InitPolicy& init) {
  return models::Conv2dNormActivation(models::Conv2dNormActivationOptions(in, out, kernel)
                                          .stride(stride)
                                          .groups(groups)
                                          .norm(norm)
                                          .activation(models::activation_factory<models::ReLU6>()),
                                      init);
}

// ssdlite.py's _extra_block: 1x1 to out/2, depthwise 3x3 stride 2, 1x1 to out.
models::Sequential extra_block(int64_t in, int64_t out, const models::NormFactory& norm, const InitPolicy& init) {
  const int64_t mid = out / 2;
  models::Sequential s;
  s->push_back(relu6_block(in, mid, 1, 1, 1, norm, init));
  s->push_back(relu6_block(mid, mid, 3, 2, mid, norm, init));
  s->push_back(relu6_block(mid, out, 1, 1, 1, norm, init));
  return s;
}

// ssdlite.py's _prediction_block: depthwise 3x3 + norm + ReLU6, then a 1x1 convolution.
models::Sequential prediction_block(int64_t in, int64_t out, const models::NormFactory& norm, const InitPolicy& init) {
  models::Sequential s;
  s->push_back(relu6_block(in, in, 3, 1, in, norm, init));
  s->push_back(Conv2d(Conv2dOptions(in, out, 1), init));
  return s;
}

TransformOptions ssdlite_transform() {
  TransformOptions t;
  t.min_size = 320;
  t.max_size = 320;
  t.image_mean = {0.5, 0.5, 0.5};
  t.image_std = {0.5, 0.5, 0.5};
  t.size_divisible = 1;
  t.fixed_size = std::make_pair<int64_t, int64_t>(320, 320);
  return t;
}

}  // namespace

SSDLiteImpl::SSDLiteImpl(int64_t num_classes, SSDOptions options, bool reduced_tail, const InitPolicy& policy)
    : DetectorImpl("SSD"),
      num_classes_(num_classes),
      options_(options),
      transform_(ssdlite_transform()),
      anchors_(std::vector<std::vector<double>>(6, {2, 3}), 0.2, 0.95) {
  const InitPolicy init = ssdlite_init(policy);
  const models::NormFactory norm = models::batch_norm2d_factory(0.001, 0.03);
  auto layers = mobilenet_v3_large_features(norm, reduced_tail, init);
  // _mobilenet_extractor: C4 (torchvision's c4_pos) is the last strided block
  // (features 13 of mobilenet_v3_large), split after its expansion layer.
  const models::MobileNetV3Config cfg = models::mobilenet_v3_config("mobilenet_v3_large", 1.0, reduced_tail);
  std::size_t c4 = 0;
  for (std::size_t i = 0; i < cfg.blocks.size(); ++i) {
    if (cfg.blocks[i].stride > 1) c4 = i + 1;  // features[0] is the stem
  }
  auto c4_block = std::dynamic_pointer_cast<models::SequentialImpl>(layers[c4].first->named_children()["block"]);
  if (!c4_block || c4_block->size() < 2) throw Error("ssdlite320_mobilenet_v3_large: unexpected C4 block layout");
  models::Sequential stage0, stage1, c4_rest;
  for (std::size_t i = 0; i < c4; ++i) stage0->push_back(layers[i].first);
  stage0->push_back(std::to_string(c4), (*c4_block)[0]);
  for (std::size_t i = 1; i < c4_block->size(); ++i) c4_rest->push_back(std::to_string(i), (*c4_block)[i]);
  stage1->push_back(c4_rest);
  for (std::size_t i = c4 + 1; i < layers.size(); ++i) stage1->push_back(layers[i].first);
  features = {stage0, stage1};

  backbone = register_module("backbone", std::make_shared<torch::nn::Module>("SSDLiteFeatureExtractorMobileNet"));
  auto feature_list = backbone->register_module("features", std::make_shared<torch::nn::Module>("Sequential"));
  for (std::size_t i = 0; i < features.size(); ++i) feature_list->register_module(std::to_string(i), features[i]);
  // get_depth(d) = max(min_depth 16, int(d * width_mult 1.0)).
  const int64_t c4_channels = cfg.blocks[c4 - 1].expanded_channels;
  const int64_t last = layers.back().second;
  const int64_t depths[] = {512, 256, 256, 128};
  int64_t in = last;
  auto extra_list = backbone->register_module("extra", std::make_shared<torch::nn::Module>("ModuleList"));
  std::vector<int64_t> channels = {c4_channels, last};
  for (std::size_t i = 0; i < 4; ++i) {
    extra.push_back(extra_block(in, depths[i], norm, init));
    extra_list->register_module(std::to_string(i), extra.back());
    in = depths[i];
    channels.push_back(in);
  }

  head = register_module("head", std::make_shared<torch::nn::Module>("SSDLiteHead"));
  auto cls = head->register_module("classification_head", std::make_shared<torch::nn::Module>("SSDLiteClassificationHead"))
                 ->register_module("module_list", std::make_shared<torch::nn::Module>("ModuleList"));
  auto reg = head->register_module("regression_head", std::make_shared<torch::nn::Module>("SSDLiteRegressionHead"))
                 ->register_module("module_list", std::make_shared<torch::nn::Module>("ModuleList"));
  const auto per_location = anchors_.num_anchors_per_location();
  for (std::size_t i = 0; i < channels.size(); ++i) {
    cls_logits.push_back(
        cls->register_module(std::to_string(i), prediction_block(channels[i], num_classes * per_location[i], norm, init)));
  }
  for (std::size_t i = 0; i < channels.size(); ++i) {
    bbox_reg.push_back(reg->register_module(std::to_string(i), prediction_block(channels[i], 4 * per_location[i], norm, init)));
  }
}

std::vector<Detection> SSDLiteImpl::detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) {
  check_inputs(images);
  c10::NoGradGuard no_grad;
  const ImageList batch = transform_(images);
  ops::FeatureMaps feats;
  at::Tensor x = batch.tensors;
  for (auto& f : features) {
    x = f->forward(x);
    feats.emplace_back(std::to_string(feats.size()), x);
  }
  for (auto& e : extra) {
    x = e->forward(x);
    feats.emplace_back(std::to_string(feats.size()), x);
  }
  const auto [cls, reg] = apply_heads(feats, cls_logits, bbox_reg, num_classes_);
  return finish(batch, feats, cls, reg, anchors_, options_, transform_, sizes_of(images), trace);
}

Detector ssdlite320_mobilenet_v3_large(const DetectorArgs& args) {
  const detail::Args a(args, "ssdlite320_mobilenet_v3_large",
                       {"score_thresh", "nms_thresh", "detections_per_img", "topk_candidates",
                        "trainable_backbone_layers", "reduced_tail"});
  if (args.num_classes < 2) throw Error("ssdlite320_mobilenet_v3_large: num_classes must be at least 2 (background + 1)");
  const int64_t trainable = a.integer("trainable_backbone_layers", 6);
  if (trainable < 0 || trainable > 6) {
    throw Error("ssdlite320_mobilenet_v3_large: trainable_backbone_layers must be in [0, 6], got " +
                std::to_string(trainable));
  }
  bool reduced_tail = true;
  if (auto it = args.extra.find("reduced_tail"); it != args.extra.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error("ssdlite320_mobilenet_v3_large: argument 'reduced_tail' must be a boolean, got " + it->dump());
    reduced_tail = it->get<bool>();
  }
  SSDOptions o;
  o.score_thresh = a.number("score_thresh", 0.001);
  o.nms_thresh = a.number("nms_thresh", 0.55);
  o.detections_per_img = a.integer("detections_per_img", 300);
  o.topk_candidates = a.integer("topk_candidates", 300);
  auto model = std::make_shared<SSDLiteImpl>(args.num_classes, o, reduced_tail, InitPolicy::torch_default(args.init_weights));
  model->eval();
  return Detector(model);
}

}  // namespace modelzoo::detection
