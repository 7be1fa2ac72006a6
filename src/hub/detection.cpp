#include "modelzoo/hub/detection.h"

#include <c10/core/GradMode.h>

#include "modelzoo/error.h"
#include "modelzoo/inference/inference.h"
#include "modelzoo/io/io.h"
#include "modelzoo/state_dict/state_dict.h"

namespace modelzoo {
namespace {

const detection::DetectorInfo& require_detector(const std::string& name, const registry::ModelEntry* entry) {
  if (entry != nullptr && entry->task != "detection") {
    throw Error("'" + name + "' is a " + entry->task + " model, not a detector" +
                (entry->task == "classification" ? std::string("; build it with modelzoo::get_model(\"") + name + "\", ...)"
                                                 : std::string()));
  }
  const std::string arch = entry ? entry->arch : name;
  const detection::DetectorInfo* info = detection::find_detector(arch);
  if (info == nullptr) {
    std::string known;
    for (const auto& n : detection::list_detectors()) known += (known.empty() ? "" : ", ") + n;
    throw Error("'" + name + "' is not a detection architecture (known: " + known + ")");
  }
  return *info;
}

// The registry entry a request names, or the model's default entry for
// URL/file weights (what their outputs mean is still the architecture's).
const registry::WeightsEntry* entry_for_meaning(const std::string& name, const Weights& weights,
                                                const HubOptions& options) {
  const registry::ModelEntry* m = options.registry.find(name);
  if (m == nullptr) return nullptr;
  if (weights.kind() == Weights::Kind::Tag) return &m->require_weights(weights.value());
  return m->find_weights("DEFAULT");
}

}  // namespace

DetectionWeightsInfo detection_weights_info(const std::string& name, const Weights& weights,
                                            const HubOptions& options) {
  require_detector(name, options.registry.find(name));
  DetectionWeightsInfo info;
  if (const registry::WeightsEntry* we = entry_for_meaning(name, weights, options)) {
    info.categories = we->categories;
    auto it = we->meta.find("keypoint_names");
    if (it != we->meta.end() && it->is_array()) info.keypoint_names = it->get<std::vector<std::string>>();
  }
  return info;
}

Detector get_detector(const std::string& name, const Weights& weights, const HubOptions& options) {
  const registry::ModelEntry* entry = options.registry.find(name);
  const detection::DetectorInfo& info = require_detector(name, entry);
  const bool pretrained = weights.kind() != Weights::Kind::None;
  detection::DetectorArgs args;
  args.num_classes = info.default_num_classes;
  args.init_weights = !pretrained;
  const registry::WeightsEntry* we = pretrained ? entry_for_meaning(name, weights, options) : nullptr;
  if (we != nullptr) {
    if (!we->categories.empty()) args.num_classes = static_cast<int64_t>(we->categories.size());
    auto kp = we->meta.find("keypoint_names");
    if (kp != we->meta.end() && kp->is_array() && info.family == "keypoint_rcnn") {
      args.extra["num_keypoints"] = kp->size();
    }
    // Builder options of the weights themselves (e.g. frozen_bn_eps 0), for
    // registry weights only: a custom file brings no such promise.
    auto it = we->meta.find("arch_options");
    if (it != we->meta.end() && it->is_object() &&
        (weights.kind() == Weights::Kind::Default || weights.kind() == Weights::Kind::Tag)) {
      for (const auto& [k, v] : it->items()) args.extra[k] = v;
    }
  }
  if (options.num_classes) args.num_classes = *options.num_classes;
  for (const auto& [k, v] : options.arch_options.items()) args.extra[k] = v;
  if (!pretrained) return info.build(args);

  const fetch::FetchResult file = fetch_weights(name, weights, options);
  io::StateDict sd = io::read_state_dict(file.path, options.read);
  Detector model = info.build(args);
  // FrozenBatchNorm2d holds no num_batches_tracked; torchvision drops it on load.
  const io::StateDict held = state_dict::state_dict(*model);
  io::StateDict kept;
  const std::string nbt = "num_batches_tracked";
  for (const auto& item : sd) {
    const std::string& k = item.key();
    const bool stale = k.size() > nbt.size() && k.compare(k.size() - nbt.size(), nbt.size(), nbt) == 0 &&
                       held.find(k) == nullptr;
    if (!stale) kept.insert(k, item.value());
  }
  state_dict::LoadOptions lo = options.load;
  std::vector<state_dict::RenameRule> rules;
  for (const auto& [pattern, replacement] : info.key_renames) rules.push_back({pattern, replacement});
  if (we != nullptr) {
    auto it = we->meta.find("key_renames");
    if (it != we->meta.end() && it->is_array()) {
      for (const auto& rule : *it) rules.push_back({rule.at(0).get<std::string>(), rule.at(1).get<std::string>()});
    }
  }
  rules.insert(rules.end(), lo.renames.begin(), lo.renames.end());
  lo.renames = std::move(rules);
  try {
    c10::NoGradGuard no_grad;
    state_dict::load_state_dict(*model, kept, lo);
  } catch (const LoadError& e) {
    throw LoadError("loading " + file.path.string() + " into " + info.name + " (" + name + ":" + weights.describe() +
                    "): " + e.what());
  }
  model->eval();
  if (options.optimize && inference_available()) {
    const InferenceReport report = optimize_for_inference(*model, options.inference);
    if (options.trace) {
      options.trace->optimize_ms = report.ms;
      options.trace->optimized = report.to_string();
      options.trace->reorder_ms = report.reordered;
    }
  }
  return model;
}

std::vector<std::string> list_detectors() { return detection::list_detectors(); }

#define MODELZOO_DEFINE_DETECTOR(name)                                                          \
  Detector name(bool pretrained, const HubOptions& options) {                                   \
    return get_detector(#name, pretrained ? Weights::default_weights() : Weights::none(), options); \
  }                                                                                             \
  Detector name(const Weights& weights, const HubOptions& options) { return get_detector(#name, weights, options); }

MODELZOO_DEFINE_DETECTOR(fasterrcnn_resnet50_fpn)
MODELZOO_DEFINE_DETECTOR(fasterrcnn_resnet50_fpn_v2)
MODELZOO_DEFINE_DETECTOR(fasterrcnn_mobilenet_v3_large_fpn)
MODELZOO_DEFINE_DETECTOR(fasterrcnn_mobilenet_v3_large_320_fpn)
MODELZOO_DEFINE_DETECTOR(maskrcnn_resnet50_fpn)
MODELZOO_DEFINE_DETECTOR(maskrcnn_resnet50_fpn_v2)
MODELZOO_DEFINE_DETECTOR(keypointrcnn_resnet50_fpn)
MODELZOO_DEFINE_DETECTOR(retinanet_resnet50_fpn)
MODELZOO_DEFINE_DETECTOR(retinanet_resnet50_fpn_v2)
MODELZOO_DEFINE_DETECTOR(fcos_resnet50_fpn)
MODELZOO_DEFINE_DETECTOR(ssd300_vgg16)
MODELZOO_DEFINE_DETECTOR(ssdlite320_mobilenet_v3_large)

}  // namespace modelzoo
