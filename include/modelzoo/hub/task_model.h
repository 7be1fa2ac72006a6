#pragma once
/// \file
/// The pretrained path for models that are not classifiers (segmentation,
/// video, optical flow): the same registry, cache, fetch, io and state_dict
/// stages as get_model(), with the task's own architecture table. A task's
/// by-name entry point (e.g. modelzoo::get_segmenter) is a thin typed wrapper
/// over load_task_model().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"

namespace torch::nn {
class Module;
}

namespace modelzoo {

/// A task's architecture table, as load_task_model() needs it.
struct TaskArchitectures {
  /// The registry's `task` value ("segmentation", "video", "optical_flow").
  std::string task;
  /// True when `arch` is one of the task's architectures.
  std::function<bool(const std::string& arch)> knows;
  /// Builds `arch`; called only for known architectures.
  std::function<std::shared_ptr<torch::nn::Module>(const std::string& arch, const models::ArchArgs&)> build;
  /// Names of the task's architectures (for error messages).
  std::function<std::vector<std::string>()> names;
  /// ArchArgs::extra applied when building for pretrained weights, below the
  /// registry's arch_options (e.g. {"aux_loss": true}).
  std::function<nlohmann::json(const std::string& arch)> pretrained_extra;
  /// Classes of a build whose weights name no categories (custom files):
  /// 21 (VOC) for segmentation, 400 (Kinetics) for video.
  int64_t default_num_classes = 1000;
  /// Regexes of file keys dropped when the built model does not hold them
  /// (e.g. "aux_classifier\\..*" when the caller turned aux_loss off).
  std::vector<std::string> ignored_keys;
};

/// Builds `name` (a registry name or an architecture of `tasks`) with
/// `weights`, in eval mode when pretrained. The class count follows the
/// weights' categories, else default_num_classes (HubOptions::num_classes overrides both); ArchArgs::extra
/// is pretrained_extra < the weights' meta.arch_options < HubOptions::arch_options.
/// RegistryError when the registry entry belongs to another task, modelzoo::Error
/// for an unknown architecture (listing the task's names), LoadError naming the
/// file when the weights do not fit.
std::shared_ptr<torch::nn::Module> load_task_model(const std::string& name, const Weights& weights,
                                                   const HubOptions& options, const TaskArchitectures& tasks);

}  // namespace modelzoo
