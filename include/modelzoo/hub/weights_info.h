#pragma once
/// \file
/// What a (model, weights) request expects as input and gives as output,
/// without loading anything: the preprocessing (`registry::Transforms`) and
/// the class names. torchvision's `weights.transforms()` and
/// `weights.meta["categories"]`.
///
///     auto info = modelzoo::weights_info("resnet50", modelzoo::Weights::default_weights());
///     modelzoo::transforms::Preprocess pre(info.transforms);
///     auto x = pre(modelzoo::transforms::read_image("cat.jpg")).unsqueeze(0);
///     auto top5 = modelzoo::transforms::topk(model->forward(x), info.categories, 5);

#include <string>
#include <vector>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"
#include "modelzoo/registry/registry.h"

namespace modelzoo {

/// Preprocessing and class names of a weights request.
struct WeightsInfo {
  std::string model;                     ///< the requested model name
  std::string tag;                       ///< the registry tag the request resolved to; empty for custom weights
  registry::Transforms transforms;       ///< what inputs must go through
  std::vector<std::string> categories;   ///< class names (index = logit); empty when unknown
  /// True when transforms and categories come from the request's own
  /// registry entry (Default or Tag weights); false when they are the
  /// model's default entry's (custom URL or file) or the built-in defaults.
  bool from_entry = false;
};

/// Resolves `weights` for `name` as get_model() does and returns its
/// preprocessing and categories:
/// - Default / Tag: the registry entry's `transforms` and `categories`;
/// - Url / File / None: the model's default registry entry's (a custom file
///   is taken to expect what the model's own weights expect), except that the
///   categories are dropped unless their count is the model's class count
///   (HubOptions::num_classes, else 1000, as get_model builds it); an
///   unregistered architecture gets torchvision's ImageNet defaults and no
///   categories.
/// Throws RegistryError for an unknown model or tag.
WeightsInfo weights_info(const std::string& name, const Weights& weights,
                         const HubOptions& options = default_hub_options());

}  // namespace modelzoo
