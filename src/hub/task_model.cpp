#include "modelzoo/hub/task_model.h"

#include <chrono>
#include <regex>

#include <c10/core/GradMode.h>
#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/inference/inference.h"
#include "hub/locate.h"

namespace modelzoo {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::shared_ptr<torch::nn::Module> load_task_model(const std::string& name, const Weights& weights,
                                                   const HubOptions& options, const TaskArchitectures& tasks) {
  const auto t_start = Clock::now();
  LoadTrace local;
  LoadTrace& trace = options.trace ? *options.trace : local;
  trace = LoadTrace{};
  trace.model = name;
  trace.weights = weights.describe();

  auto t0 = Clock::now();
  const registry::ModelEntry* entry = options.registry.find(name);
  if (entry != nullptr && entry->task != tasks.task) {
    throw RegistryError("model '" + name + "' is a " + entry->task + " model (" + entry->origin +
                        "), not a " + tasks.task + " model");
  }
  const std::string arch = entry ? entry->arch : name;
  if (!tasks.knows(arch)) {
    throw Error("unknown " + tasks.task + " architecture '" + arch + "'" +
                (entry ? " (registry entry '" + name + "')" : std::string()) + "; known: " +
                joined(tasks.names()));
  }
  const registry::WeightsEntry* we = nullptr;
  if (weights.kind() == Weights::Kind::Default || weights.kind() == Weights::Kind::Tag) {
    if (entry == nullptr) {
      throw RegistryError("model '" + name + "' has no registry entry, so it has no weights '" +
                          weights.describe() + "'; pass Weights::url(...) or Weights::file(...)");
    }
    we = &entry->require_weights(weights.kind() == Weights::Kind::Default ? std::string("DEFAULT")
                                                                           : weights.value());
  }
  const bool pretrained = weights.kind() != Weights::Kind::None;
  models::ArchArgs args;
  args.init_weights = !pretrained;
  args.num_classes = tasks.default_num_classes;
  if (pretrained && tasks.pretrained_extra) args.extra = tasks.pretrained_extra(arch);
  if (we != nullptr) {
    if (!we->categories.empty()) args.num_classes = static_cast<int64_t>(we->categories.size());
    auto it = we->meta.find("arch_options");
    if (it != we->meta.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) args.extra[k] = v;
    }
  }
  if (options.num_classes) args.num_classes = *options.num_classes;
  for (const auto& [k, v] : options.arch_options.items()) args.extra[k] = v;
  trace.resolve_ms = ms_since(t0);

  if (!pretrained) {
    t0 = Clock::now();
    auto model = tasks.build(arch, args);
    trace.build_ms = ms_since(t0);
    trace.total_ms = ms_since(t_start);
    return model;
  }

  t0 = Clock::now();
  const fetch::FetchResult file = detail::locate_weights(name, weights, we, options);
  trace.fetch_ms = ms_since(t0);
  trace.file = file.path;
  trace.downloaded = file.downloaded;
  trace.source_url = file.url;

  t0 = Clock::now();
  io::StateDict sd = io::read_state_dict(file.path, options.read);
  trace.read_ms = ms_since(t0);
  trace.tensors = sd.size();

  t0 = Clock::now();
  auto model = tasks.build(arch, args);
  trace.build_ms = ms_since(t0);

  t0 = Clock::now();
  if (!tasks.ignored_keys.empty()) {
    std::vector<std::regex> patterns(tasks.ignored_keys.begin(), tasks.ignored_keys.end());
    const io::StateDict held = state_dict::state_dict(*model);
    io::StateDict kept;
    for (const auto& item : sd) {
      bool drop = false;
      if (held.find(item.key()) == nullptr) {
        for (const auto& re : patterns) drop = drop || std::regex_match(item.key(), re);
      }
      if (!drop) kept.insert(item.key(), item.value());
    }
    sd = std::move(kept);
  }
  try {
    c10::NoGradGuard no_grad;
    state_dict::load_state_dict(*model, sd, options.load);
  } catch (const LoadError& e) {
    throw LoadError("loading " + file.path.string() + " into " + arch + " (" + name + ":" +
                    weights.describe() + "): " + e.what());
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

}  // namespace modelzoo
