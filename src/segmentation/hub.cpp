#include "modelzoo/segmentation/hub.h"

#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/hub/task_model.h"

namespace modelzoo {
namespace {

const TaskArchitectures& segmentation_tasks() {
  static const TaskArchitectures t = [] {
    TaskArchitectures a;
    a.task = "segmentation";
    a.knows = [](const std::string& arch) {
      return segmentation::find_segmentation_architecture(arch) != nullptr;
    };
    a.build = [](const std::string& arch, const models::ArchArgs& args) -> std::shared_ptr<torch::nn::Module> {
      return segmentation::build_segmenter(arch, args).ptr();
    };
    a.names = list_segmenters;
    a.pretrained_extra = [](const std::string& arch) {
      return segmentation::find_segmentation_architecture(arch)->pretrained_extra;
    };
    a.default_num_classes = 21;
    a.ignored_keys = {"aux_classifier\\..*"};
    return a;
  }();
  return t;
}

Weights from_flag(bool pretrained) { return pretrained ? Weights::default_weights() : Weights::none(); }

}  // namespace

Segmenter get_segmenter(const std::string& name, const Weights& weights, const HubOptions& options) {
  auto module = load_task_model(name, weights, options, segmentation_tasks());
  auto impl = std::dynamic_pointer_cast<segmentation::SegmenterImpl>(module);
  if (!impl) throw Error("segmentation architecture '" + name + "' did not build a segmentation model");
  return Segmenter(impl);
}

std::vector<std::string> list_segmenters() {
  std::vector<std::string> names;
  for (const auto& a : segmentation::segmentation_architectures()) names.push_back(a.name);
  return names;
}

#define MODELZOO_SEGMENTATION_FACTORY(name)                                     \
  Segmenter name(bool pretrained, const HubOptions& options) {                  \
    return get_segmenter(#name, from_flag(pretrained), options);                \
  }                                                                             \
  Segmenter name(const Weights& weights, const HubOptions& options) {           \
    return get_segmenter(#name, weights, options);                              \
  }

MODELZOO_SEGMENTATION_FACTORY(fcn_resnet50)
MODELZOO_SEGMENTATION_FACTORY(fcn_resnet101)
MODELZOO_SEGMENTATION_FACTORY(deeplabv3_resnet50)
MODELZOO_SEGMENTATION_FACTORY(deeplabv3_resnet101)
MODELZOO_SEGMENTATION_FACTORY(deeplabv3_mobilenet_v3_large)
MODELZOO_SEGMENTATION_FACTORY(lraspp_mobilenet_v3_large)

#undef MODELZOO_SEGMENTATION_FACTORY

}  // namespace modelzoo
