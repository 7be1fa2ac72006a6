#include "modelzoo/hub/hub.h"

#include <chrono>
#include <filesystem>
#include <regex>
#include <system_error>

#include <c10/core/GradMode.h>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/env.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/hf.h"
#include "modelzoo/inference/inference.h"
#include "hub/locate.h"

namespace modelzoo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string label_of(const std::string& name, const Weights& w) { return name + ":" + w.describe(); }

// What a request resolves to before anything is fetched.
struct Resolved {
  std::string arch;
  const registry::ModelEntry* entry = nullptr;      // null for unregistered architectures
  const registry::WeightsEntry* weights = nullptr;  // null unless Default/Tag
};

// The registry entry of `model` for the same Hub file (repository and path,
// any revision): its transforms, categories, key renames and reshapes apply
// to `hf://` weights given directly.
const registry::WeightsEntry* hub_entry(const registry::ModelEntry& model, const std::string& uri) {
  const fetch::HubFile wanted = fetch::HubFile::parse(uri);
  for (const auto& w : model.weights) {
    if (!fetch::is_hub_uri(w.url)) continue;
    const fetch::HubFile f = fetch::HubFile::parse(w.url);
    if (f.repo == wanted.repo && f.path == wanted.path) return &w;
  }
  return nullptr;
}

// `classifier`: the caller builds a classifier (get_model), so a model of
// another task is refused; fetching weights works for every task.
Resolved resolve(const std::string& name, const Weights& weights, const HubOptions& options,
                 bool classifier = false) {
  Resolved r;
  r.entry = options.registry.find(name);
  r.arch = r.entry ? r.entry->arch : name;
  if (r.entry != nullptr && r.entry->task != "classification") {
    if (classifier) {
      throw Error("'" + name + "' is a " + r.entry->task + " model, not a classifier" +
                  (r.entry->task == "detection" ? std::string("; build it with modelzoo::get_detector(\"") + name + "\", ...)"
                                                : std::string()));
    }
  } else if (models::find_architecture(r.arch) == nullptr) {
    // Builds the error listing known architectures.
    if (r.entry == nullptr) options.registry.require(name);
    models::build_architecture(r.arch);
  }
  if (weights.kind() == Weights::Kind::Default || weights.kind() == Weights::Kind::Tag) {
    if (r.entry == nullptr) {
      throw RegistryError("model '" + name + "' has no registry entry, so it has no weights '" +
                          weights.describe() + "'; pass Weights::url(...) or Weights::file(...)");
    }
    r.weights = &r.entry->require_weights(
        weights.kind() == Weights::Kind::Default ? std::string("DEFAULT") : weights.value());
  }
  if (weights.kind() == Weights::Kind::Hub && r.entry != nullptr) r.weights = hub_entry(*r.entry, weights.value());
  return r;
}

fetch::FetchRequest registry_request(const std::string& name, const registry::WeightsEntry& we) {
  fetch::FetchRequest req;
  req.url = we.url;
  req.file_name = we.file_name;
  req.expect.sha256 = we.sha256.hex;
  req.expect.sha256_is_prefix = we.sha256.is_prefix;
  req.expect.size = we.size;
  req.label = name + ":" + we.tag;
  return req;
}


models::ArchArgs arch_args(const models::ArchInfo& arch, const Resolved& r, const HubOptions& options,
                           bool pretrained) {
  models::ArchArgs args;
  args.init_weights = !pretrained;
  if (pretrained) args.extra = arch.pretrained_extra;
  if (r.weights != nullptr) {
    if (!r.weights->categories.empty()) args.num_classes = static_cast<int64_t>(r.weights->categories.size());
    const auto& meta = r.weights->meta;
    auto min_size = meta.find("min_size");
    if (min_size != meta.end() && min_size->is_array() && !min_size->empty() && (*min_size)[0].is_number_integer()) {
      args.extra["image_size"] = (*min_size)[0];
    }
    auto it = meta.find("arch_options");
    if (it != meta.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) args.extra[k] = v;
    }
  }
  if (options.num_classes) args.num_classes = *options.num_classes;
  for (const auto& [k, v] : options.arch_options.items()) args.extra[k] = v;
  return args;
}

// Applies the architecture's renames, then the weights entry's own
// (meta.key_renames, e.g. for caffe conversions), then the caller's.
state_dict::LoadOptions load_options_for(const models::ArchInfo& arch, const Resolved& r, const HubOptions& options) {
  state_dict::LoadOptions lo = options.load;
  std::vector<state_dict::RenameRule> rules;
  for (const auto& [pattern, replacement] : arch.key_renames) rules.push_back({pattern, replacement});
  if (r.weights != nullptr) {
    auto it = r.weights->meta.find("key_renames");
    if (it != r.weights->meta.end() && it->is_array()) {
      for (const auto& rule : *it) rules.push_back({rule.at(0).get<std::string>(), rule.at(1).get<std::string>()});
    }
  }
  rules.insert(rules.end(), lo.renames.begin(), lo.renames.end());
  lo.renames = std::move(rules);
  if (r.weights != nullptr) {
    auto it = r.weights->meta.find("key_reshapes");
    if (it != r.weights->meta.end() && it->is_array()) {
      std::vector<state_dict::ReshapeRule> reshapes;
      for (const auto& rule : *it) {
        reshapes.push_back({rule.at(0).get<std::string>(), rule.at(1).get<std::vector<int64_t>>()});
      }
      reshapes.insert(reshapes.end(), lo.reshapes.begin(), lo.reshapes.end());
      lo.reshapes = std::move(reshapes);
    }
  }
  return lo;
}

io::StateDict drop_ignored(const io::StateDict& sd, const models::ArchInfo& arch,
                           const torch::nn::Module& model) {
  if (arch.ignored_keys.empty()) return sd;
  std::vector<std::regex> patterns;
  for (const auto& p : arch.ignored_keys) patterns.emplace_back(p);
  const io::StateDict held = state_dict::state_dict(model);
  io::StateDict out;
  for (const auto& item : sd) {
    bool drop = false;
    if (held.find(item.key()) == nullptr) {
      for (const auto& re : patterns) drop = drop || std::regex_match(item.key(), re);
    }
    if (!drop) out.insert(item.key(), item.value());
  }
  return out;
}

}  // namespace

fetch::FetchResult fetch_source(const fetch::FetchRequest& request, const HubOptions& options) {
  if (fetch::is_hub_uri(request.url)) {
    return fetch::fetch_hub_file(fetch::HubFile::parse(request.url), cache::HfCache(options.cache), options.fetch,
                                 request.expect, request.label);
  }
  return fetch::fetch_to_cache(request, cache::Cache(options.cache), options.fetch);
}

HubOptions HubOptions::from_env() {
  HubOptions o;
  o.registry = registry::Registry::from_env();
  o.cache = cache::CacheOptions::from_env();
  o.fetch = fetch::FetchOptions::from_env();
  if (const auto mode = env::get("MODELZOO_INFERENCE")) {
    if (*mode == "plain") {
      o.optimize = false;
    } else if (*mode == "foreground") {
      o.inference.background = false;
    } else if (*mode == "direct") {
      o.inference.winograd = false;
    } else if (*mode != "optimized") {
      throw Error("MODELZOO_INFERENCE: expected 'plain', 'optimized', 'foreground' or 'direct', got '" + *mode + "'");
    }
  }
  return o;
}

namespace detail {

fetch::FetchResult locate_weights(const std::string& name, const Weights& weights,
                                  const registry::WeightsEntry* entry, const HubOptions& options) {
  if (weights.kind() == Weights::Kind::File) {
    fetch::FetchResult res;
    res.path = weights.value();
    std::error_code ec;
    if (!fs::is_regular_file(res.path, ec)) {
      throw CacheError("weights file for " + name + " not found: " + res.path.string());
    }
    res.bytes = fs::file_size(res.path, ec);
    if (!weights.sha256().empty()) {
      res.sha256 = cache::sha256_file(res.path);
      registry::HashSpec spec{weights.sha256(), weights.sha256().size() != 64};
      if (!spec.matches(res.sha256)) {
        throw HashMismatchError("weights file for " + name + " (" + res.path.string() +
                                ") has sha256 " + res.sha256 + ", expected " + weights.sha256());
      }
    }
    return res;
  }
  fetch::FetchRequest req;
  if (weights.kind() == Weights::Kind::Url || weights.kind() == Weights::Kind::Hub) {
    req.url = weights.value();
    req.file_name = weights.file_name();
    req.expect.sha256 = weights.sha256();
    req.expect.sha256_is_prefix = weights.sha256_is_prefix();
    req.label = label_of(name, weights);
    // The registry's pins hold for the revision the entry names.
    if (weights.kind() == Weights::Kind::Hub && entry != nullptr &&
        fetch::HubFile::parse(entry->url).uri() == weights.value()) {
      if (req.expect.sha256.empty() && !entry->sha256.is_prefix) req.expect.sha256 = entry->sha256.hex;
      req.expect.size = entry->size;
    }
  } else {
    if (entry == nullptr) throw Error("locate_weights(" + name + "): a registry request without its entry");
    req = registry_request(name, *entry);
    try {
      return fetch_source(req, options);
    } catch (const HashMismatchError& e) {
      // Say when the pinned value has a single source, and how to accept the file.
      throw HashMismatchError(registry::explain_mismatch(name, *entry, e.what()));
    }
  }
  return fetch_source(req, options);
}

}  // namespace detail

const HubOptions& default_hub_options() {
  static const HubOptions options = HubOptions::from_env();
  return options;
}

const registry::WeightsEntry* resolve_weights_entry(const std::string& name, const Weights& weights,
                                                    const HubOptions& options) {
  return resolve(name, weights, options).weights;
}

fetch::FetchResult fetch_weights(const std::string& name, const Weights& weights, const HubOptions& options) {
  if (weights.kind() == Weights::Kind::None) {
    throw Error("fetch_weights(" + name + "): weights 'none' have no file to fetch");
  }
  const Resolved r = resolve(name, weights, options);
  return detail::locate_weights(name, weights, r.weights, options);
}

Classifier get_model(const std::string& name, const Weights& weights, const HubOptions& options) {
  const auto t_start = Clock::now();
  LoadTrace local;
  LoadTrace& trace = options.trace ? *options.trace : local;
  trace = LoadTrace{};
  trace.model = name;
  trace.weights = weights.describe();

  auto t0 = Clock::now();
  const Resolved r = resolve(name, weights, options, /*classifier=*/true);
  const models::ArchInfo& arch = *models::find_architecture(r.arch);
  const bool pretrained = weights.kind() != Weights::Kind::None;
  trace.resolve_ms = ms_since(t0);

  if (!pretrained) {
    t0 = Clock::now();
    Classifier model = arch.build(arch_args(arch, r, options, false));
    trace.build_ms = ms_since(t0);
    trace.total_ms = ms_since(t_start);
    return model;
  }

  t0 = Clock::now();
  fetch::FetchResult file = detail::locate_weights(name, weights, r.weights, options);
  trace.fetch_ms = ms_since(t0);
  trace.file = file.path;
  trace.downloaded = file.downloaded;
  trace.source_url = file.url;

  t0 = Clock::now();
  io::StateDict sd;
  try {
    sd = io::read_state_dict(file.path, options.read);
  } catch (const FormatError& e) {
    // A cached file that passed its stamp but does not parse may have been
    // damaged after it was verified: rehash it, and fetch it again once when
    // it no longer matches. A file that matches its hash is what was published.
    const bool refetchable = weights.kind() != Weights::Kind::File && !file.downloaded && !options.fetch.offline;
    if (!refetchable) throw;
    const std::string actual = cache::sha256_file(file.path);
    const std::string& expected = r.weights ? r.weights->sha256.hex : weights.sha256();
    const bool is_prefix = r.weights ? r.weights->sha256.is_prefix : weights.sha256_is_prefix();
    if (registry::HashSpec{expected, is_prefix}.matches(actual)) throw;
    std::error_code ec;
    fs::remove(fs::canonical(file.path, ec), ec);  // a Hub snapshot entry is a link: remove its blob
    file = detail::locate_weights(name, weights, r.weights, options);
    trace.file = file.path;
    trace.downloaded = file.downloaded;
    trace.source_url = file.url;
    sd = io::read_state_dict(file.path, options.read);
  }
  trace.read_ms = ms_since(t0);
  trace.tensors = sd.size();

  t0 = Clock::now();
  Classifier model = arch.build(arch_args(arch, r, options, true));
  trace.build_ms = ms_since(t0);

  t0 = Clock::now();
  try {
    c10::NoGradGuard no_grad;
    state_dict::load_state_dict(*model, drop_ignored(sd, arch, *model), load_options_for(arch, r, options));
  } catch (const LoadError& e) {
    throw LoadError("loading " + file.path.string() + " into " + r.arch + " (" + label_of(name, weights) +
                    "): " + e.what());
  }
  model->eval();
  trace.load_ms = ms_since(t0);
  if (options.optimize && inference_available()) {
    const InferenceReport report = optimize_for_inference(*model, options.inference);
    trace.optimize_ms = report.ms;
    trace.optimized = report.to_string();
    trace.reorder_ms = report.reordered;
  }
  trace.total_ms = ms_since(t_start);
  return model;
}

std::vector<std::string> list_models() { return models::list_models(); }

}  // namespace modelzoo
