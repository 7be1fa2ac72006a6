#pragma once
/// \file
/// The hub: the only place where the stages meet. A pretrained request goes
/// registry -> cache lookup -> fetch when missing -> verify -> io read ->
/// key remap -> load_state_dict -> model in eval mode -> optimize_for_inference
/// (unless HubOptions::optimize is off).

#include <filesystem>
#include <future>
#include <optional>
#include <string>

#include "modelzoo/cache/cache.h"
#include "modelzoo/hub/weights.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/inference/inference.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/registry/registry.h"
#include "modelzoo/state_dict/state_dict.h"

namespace modelzoo {

using models::Classifier;

/// Time spent in each stage of one get_model call (milliseconds).
struct LoadTrace {
  std::string model, weights;              ///< what was resolved
  std::filesystem::path file;              ///< weights file used
  bool downloaded = false;
  std::string source_url;                  ///< sanitised, when downloaded
  double resolve_ms = 0, fetch_ms = 0, read_ms = 0, build_ms = 0, load_ms = 0, total_ms = 0;
  /// optimize_for_inference (InferenceReport::ms: the weight reorders are
  /// left to its background thread); 0 when not applied.
  double optimize_ms = 0;
  /// InferenceReport::reordered: ready once every weight is folded and
  /// reordered, with the milliseconds from the start of the optimisation
  /// until then; not valid() when it was not applied.
  std::shared_future<double> reorder_ms;
  std::size_t tensors = 0;
  /// InferenceReport::to_string() of the optimisation, empty when not applied.
  std::string optimized;
};

/// Everything the hub needs; plain data. from_env() reads the environment once.
struct HubOptions {
  registry::Registry registry;        ///< built-in + MODELZOO_REGISTRY in from_env()
  cache::CacheOptions cache;
  fetch::FetchOptions fetch;
  state_dict::LoadOptions load;       ///< strict by default
  io::ReadOptions read;
  /// Overrides the class count (default: the weights' categories, else 1000),
  /// e.g. for a local file fine-tuned on 10 classes.
  std::optional<int64_t> num_classes;
  /// Merged over the registry entry's "arch_options" (e.g. {"aux_logits": true}).
  nlohmann::json arch_options = nlohmann::json::object();
  LoadTrace* trace = nullptr;         ///< filled when set
  /// Apply optimize_for_inference to pretrained models (they come back in
  /// eval mode): on by default, off with MODELZOO_INFERENCE=plain in from_env().
  bool optimize = true;
  /// How it is applied: by default its folds and reorders run on a
  /// background thread while the caller goes on (InferenceOptions::background);
  /// MODELZOO_INFERENCE=foreground in from_env() has them done before the
  /// model is returned, MODELZOO_INFERENCE=direct leaves Winograd out
  /// (InferenceOptions::winograd).
  InferenceOptions inference;
  /// Reads MODELZOO_* (see README); MODELZOO_INFERENCE takes "plain",
  /// "optimized", "foreground" or "direct".
  static HubOptions from_env();
};

/// The process-wide defaults: HubOptions::from_env(), read on first use.
const HubOptions& default_hub_options();

/// Builds `name` (any registered architecture) with `weights`, in eval mode
/// when pretrained. num_classes and architecture options come from the
/// weights' registry entry.
Classifier get_model(const std::string& name, const Weights& weights = Weights::none(),
                     const HubOptions& options = default_hub_options());

/// Resolves and fetches the weights file of a request without building the
/// model (what cache_tool fetch does). Returns the verified local file.
fetch::FetchResult fetch_weights(const std::string& name, const Weights& weights,
                                 const HubOptions& options = default_hub_options());

/// Fetches (or finds) the file of one request: an `hf://` URL through the
/// Hub's protocol into the Hub's cache (fetch/hf.h), any other URL into
/// torch.hub's cache (fetch_to_cache).
fetch::FetchResult fetch_source(const fetch::FetchRequest& request, const HubOptions& options);

/// The registry entry a request resolves to (nullptr for None/File/Url/Hub).
const registry::WeightsEntry* resolve_weights_entry(const std::string& name, const Weights& weights,
                                                    const HubOptions& options);

/// Registered model names that have an architecture (sorted).
std::vector<std::string> list_models();

}  // namespace modelzoo
