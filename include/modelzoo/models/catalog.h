#pragma once
/// \file
/// The table of architectures: name -> builder. Each model family adds its
/// architectures in src/models/catalog.cpp; the table is constant after
/// first use (no registration at run time).

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "modelzoo/models/classifier.h"

namespace modelzoo::models {

/// Arguments every builder understands; family-specific knobs go in `extra`
/// (e.g. {"aux_logits": true}, {"image_size": 384}). Builders ignore keys
/// they do not know. For pretrained weights the hub fills `extra` from, in
/// increasing precedence: ArchInfo::pretrained_extra, {"image_size":
/// min_size[0]} when the weights' meta has "min_size", the weights' meta
/// "arch_options", and HubOptions::arch_options.
struct ArchArgs {
  int64_t num_classes = 1000;
  /// false: skip random initialisation because weights will be loaded over
  /// every parameter (the pretrained path); parameters are then left
  /// uninitialised (torch::empty) until load_state_dict fills them.
  bool init_weights = true;
  nlohmann::json extra = nlohmann::json::object();
};

/// Throws modelzoo::Error naming `arch` and the offending key when
/// `args.extra` is not a JSON object or holds a key not in `known`: for a
/// builder that prefers refusing a misspelt knob to ignoring it. Such a
/// builder must list every key the hub may pass (at least "image_size").
void check_extra_keys(const ArchArgs& args, const std::string& arch,
                      const std::vector<std::string>& known);
/// `args.extra[key]` as a number, `fallback` when absent; modelzoo::Error
/// naming `arch` and `key` when it is not a number.
double extra_number(const ArchArgs& args, const std::string& arch, const std::string& key,
                    double fallback);
/// `args.extra[key]` as a bool, `fallback` when absent; modelzoo::Error
/// naming `arch` and `key` when it is not a bool.
bool extra_bool(const ArchArgs& args, const std::string& arch, const std::string& key,
                bool fallback);

/// One architecture.
struct ArchInfo {
  std::string name;    ///< torchvision's builder name, e.g. "vgg19_bn"
  std::string family;  ///< e.g. "vgg"
  std::function<Classifier(const ArchArgs&)> build;
  /// Key renames published weight files need, applied before loading:
  /// {ECMAScript regex matching a whole key, replacement with $1..}
  /// (e.g. DenseNet's old "norm.1" names).
  std::vector<std::pair<std::string, std::string>> key_renames = {};
  /// Regexes of file keys the model does not hold and which are dropped
  /// before a strict load (e.g. GoogLeNet's aux heads when aux_logits=false).
  std::vector<std::string> ignored_keys = {};
  /// ArchArgs::extra applied when building for pretrained weights, below the
  /// registry entry's "arch_options" (e.g. GoogLeNet: {"transform_input": true}).
  nlohmann::json pretrained_extra = nlohmann::json::object();
};

/// Every architecture, sorted by name.
const std::vector<ArchInfo>& architectures();
/// The architecture or nullptr.
const ArchInfo* find_architecture(const std::string& name);
/// Builds `name`; throws modelzoo::Error listing known names when unknown.
Classifier build_architecture(const std::string& name, const ArchArgs& args = {});
/// Names of every architecture, sorted.
std::vector<std::string> list_models();

}  // namespace modelzoo::models
