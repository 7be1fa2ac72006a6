#pragma once
/// \file
/// The hub: the only place where the stages meet. A pretrained request goes
/// registry -> cache lookup -> fetch when missing -> verify -> io read ->
/// key remap -> load_state_dict -> model in eval mode.

#include <filesystem>
#include <optional>
#include <string>

#include "modelzoo/cache/cache.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/registry/registry.h"
#include "modelzoo/state_dict/state_dict.h"

namespace modelzoo {

using models::Classifier;

/// Which weights a model gets.
class Weights {
 public:
  enum class Kind { None, Default, Tag, Url, File };
  /// Random initialisation (`weights=None`).
  static Weights none() { return Weights(Kind::None); }
  /// The registry's default weights (`weights="DEFAULT"`, pretrained=true).
  static Weights default_weights() { return Weights(Kind::Default); }
  /// A registry tag such as "IMAGENET1K_V2".
  static Weights tag(std::string tag);
  /// A custom URL, verified against `sha256` (64 hex chars, or a prefix when
  /// `sha256_is_prefix`); cached under the URL's basename unless `file_name`.
  static Weights url(std::string url, std::string sha256, std::string file_name = "",
                     bool sha256_is_prefix = false);
  /// A local file used in place (never copied); `sha256` optional.
  static Weights file(std::filesystem::path path, std::string sha256 = "");
  /// Parses "none" | "default" | "DEFAULT" | a tag | "file:PATH" | "http(s)://URL#sha256=HEX".
  static Weights parse(const std::string& spec);

  Kind kind() const { return kind_; }
  const std::string& value() const { return value_; }
  const std::string& sha256() const { return sha256_; }
  bool sha256_is_prefix() const { return sha256_is_prefix_; }
  const std::string& file_name() const { return file_name_; }
  /// "none", "DEFAULT", the tag, the sanitised URL or the path.
  std::string describe() const;

 private:
  explicit Weights(Kind k) : kind_(k) {}
  Kind kind_;
  std::string value_, sha256_, file_name_;
  bool sha256_is_prefix_ = false;
};

/// Time spent in each stage of one get_model call (milliseconds).
struct LoadTrace {
  std::string model, weights;              ///< what was resolved
  std::filesystem::path file;              ///< weights file used
  bool downloaded = false;
  std::string source_url;                  ///< sanitised, when downloaded
  double resolve_ms = 0, fetch_ms = 0, read_ms = 0, build_ms = 0, load_ms = 0, total_ms = 0;
  std::size_t tensors = 0;
};

/// Everything the hub needs; plain data. from_env() reads the environment once.
struct HubOptions {
  registry::Registry registry;        ///< built-in + MODELZOO_REGISTRY in from_env()
  cache::CacheOptions cache;
  fetch::FetchOptions fetch;
  state_dict::LoadOptions load;       ///< strict by default
  io::ReadOptions read;
  LoadTrace* trace = nullptr;         ///< filled when set
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

/// The registry entry a request resolves to (nullptr for None/File/Url).
const registry::WeightsEntry* resolve_weights_entry(const std::string& name, const Weights& weights,
                                                    const HubOptions& options);

/// Registered model names that have an architecture (sorted).
std::vector<std::string> list_models();

}  // namespace modelzoo
