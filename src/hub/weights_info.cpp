#include "modelzoo/hub/weights_info.h"

namespace modelzoo {

WeightsInfo weights_info(const std::string& name, const Weights& weights, const HubOptions& options) {
  WeightsInfo info;
  info.model = name;
  // Throws for unknown models and tags, as get_model would.
  if (const registry::WeightsEntry* entry = resolve_weights_entry(name, weights, options)) {
    info.tag = entry->tag;
    info.transforms = entry->transforms;
    info.categories = entry->categories;
    info.from_entry = true;
    return info;
  }
  const registry::ModelEntry* model = options.registry.find(name);
  if (model == nullptr) return info;
  const registry::WeightsEntry* def = model->find_weights("DEFAULT");
  if (def == nullptr) return info;
  info.transforms = def->transforms;
  // get_model builds custom weights with num_classes, else 1000 outputs.
  const int64_t classes = options.num_classes ? *options.num_classes : 1000;
  if (static_cast<int64_t>(def->categories.size()) == classes) info.categories = def->categories;
  return info;
}

}  // namespace modelzoo
