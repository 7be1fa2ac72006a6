#include "modelzoo/video/hub.h"

#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/hub/task_model.h"

namespace modelzoo {
namespace {

const TaskArchitectures& video_tasks() {
  static const TaskArchitectures t = [] {
    TaskArchitectures a;
    a.task = "video";
    a.knows = [](const std::string& arch) { return video::find_video_architecture(arch) != nullptr; };
    a.build = [](const std::string& arch, const models::ArchArgs& args) -> std::shared_ptr<torch::nn::Module> {
      return video::build_video_classifier(arch, args).ptr();
    };
    a.names = list_video_classifiers;
    a.default_num_classes = 400;
    return a;
  }();
  return t;
}

Weights from_flag(bool pretrained) { return pretrained ? Weights::default_weights() : Weights::none(); }

}  // namespace

VideoClassifier get_video_classifier(const std::string& name, const Weights& weights, const HubOptions& options) {
  auto module = load_task_model(name, weights, options, video_tasks());
  auto impl = std::dynamic_pointer_cast<video::VideoClassifierImpl>(module);
  if (!impl) throw Error("video architecture '" + name + "' did not build a video classifier");
  return VideoClassifier(impl);
}

std::vector<std::string> list_video_classifiers() {
  std::vector<std::string> names;
  for (const auto& a : video::video_architectures()) names.push_back(a.name);
  return names;
}

#define MODELZOO_VIDEO_FACTORY(name)                                                                 \
  VideoClassifier name(bool pretrained, const HubOptions& options) {                                 \
    return get_video_classifier(#name, from_flag(pretrained), options);                              \
  }                                                                                                  \
  VideoClassifier name(const Weights& weights, const HubOptions& options) {                          \
    return get_video_classifier(#name, weights, options);                                            \
  }

MODELZOO_VIDEO_FACTORY(r3d_18)
MODELZOO_VIDEO_FACTORY(mc3_18)
MODELZOO_VIDEO_FACTORY(r2plus1d_18)
MODELZOO_VIDEO_FACTORY(s3d)
MODELZOO_VIDEO_FACTORY(mvit_v1_b)
MODELZOO_VIDEO_FACTORY(mvit_v2_s)

#undef MODELZOO_VIDEO_FACTORY

}  // namespace modelzoo
