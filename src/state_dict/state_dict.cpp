#include "modelzoo/state_dict/state_dict.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <ATen/core/grad_mode.h>
#include <c10/core/ScalarType.h>

#include "modelzoo/error.h"

namespace modelzoo::state_dict {
namespace {

const char kModulePrefix[] = "module.";
const char kBatchesTracked[] = "num_batches_tracked";

// One parameter or buffer of a module, with its state_dict key.
struct Slot {
  std::string key;
  at::Tensor tensor;  // shares the module's TensorImpl: set_/copy_ write into the module
  bool buffer;
};

// Python's Module.state_dict order: own parameters, own buffers, then each
// child depth-first. Undefined tensors (Python's None) are skipped.
void collect(const torch::nn::Module& m, const std::string& prefix, std::vector<Slot>& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.push_back({prefix + p.key(), p.value(), false});
  }
  for (const auto& b : m.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.push_back({prefix + b.key(), b.value(), true});
  }
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::vector<int64_t> shape_of(const at::Tensor& t) { return t.sizes().vec(); }

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

// The last dotted component of a key.
std::string leaf_name(const std::string& key) {
  auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// When every unexpected key starts with the same first component and
// dropping it gives a missing key, the file most likely wraps the model
// (`model.`, `backbone.`, ...): say which rename would fix it.
std::string prefix_hint(const LoadReport& r) {
  if (r.unexpected.empty() || r.missing.empty()) return "";
  const auto dot = r.unexpected.front().find('.');
  if (dot == std::string::npos) return "";
  const std::string prefix = r.unexpected.front().substr(0, dot + 1);
  std::set<std::string> missing(r.missing.begin(), r.missing.end());
  bool any_match = false;
  for (const auto& k : r.unexpected) {
    if (k.compare(0, prefix.size(), prefix) != 0) return "";
    any_match = any_match || missing.count(k.substr(prefix.size())) > 0;
  }
  if (!any_match) return "";
  return "hint: every unexpected key starts with '" + prefix +
         "'; a rename rule {\"" + prefix + "(.*)\", \"$1\"} would strip it\n";
}

}  // namespace

std::string LoadReport::to_string() const {
  std::ostringstream os;
  auto shape_of_key = [this](const std::string& k) {
    auto it = shapes.find(k);
    return it == shapes.end() ? std::string() : " " + shape_str(it->second);
  };
  if (!missing.empty()) {
    os << "missing from the file (" << missing.size() << "):\n";
    for (const auto& k : missing) os << "  " << k << shape_of_key(k) << "\n";
  }
  if (!unexpected.empty()) {
    os << "unexpected in the file (" << unexpected.size() << "):\n";
    for (const auto& k : unexpected) os << "  " << k << shape_of_key(k) << "\n";
  }
  if (!mismatched.empty()) {
    os << "mismatched (" << mismatched.size() << "):\n";
    for (const auto& m : mismatched) {
      os << "  " << m.key << ": module expects " << shape_str(m.expected) << ", file has "
         << shape_str(m.found);
      if (!m.detail.empty()) os << " (" << m.detail << ")";
      os << "\n";
    }
  }
  if (!defaulted.empty()) {
    os << "set to default, absent from the file (" << defaulted.size() << "):\n";
    for (const auto& k : defaulted) os << "  " << k << "\n";
  }
  os << prefix_hint(*this);
  if (ok() && defaulted.empty()) os << "all " << loaded << " tensors matched\n";
  return os.str();
}

StateDict state_dict(const torch::nn::Module& module) {
  std::vector<Slot> slots;
  collect(module, "", slots);
  StateDict sd;
  for (auto& s : slots) {
    if (sd.contains(s.key)) {
      throw LoadError("state_dict: two tensors of " + module.name() + " are both named '" + s.key + "'");
    }
    sd.insert(s.key, s.tensor.detach());
  }
  return sd;
}

namespace {
std::string shape_text(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

StateDict reshape_keys(const StateDict& sd, const LoadOptions& options) {
  if (options.reshapes.empty()) return sd;
  std::vector<std::regex> patterns;
  for (const auto& rule : options.reshapes) {
    try {
      patterns.emplace_back(rule.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw LoadError("reshape rule: pattern '" + rule.pattern + "' is not a valid regular expression (" + e.what() + ")");
    }
  }
  StateDict out;
  for (const auto& item : sd) {
    at::Tensor t = item.value();
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      if (!std::regex_match(item.key(), patterns[i])) continue;
      const auto& want = options.reshapes[i].shape;
      int64_t known = 1, inferred = 0;
      for (int64_t d : want) {
        if (d == -1) ++inferred;
        else known *= d;
      }
      const bool fits = inferred <= 1 && known > 0 &&
                        (inferred == 1 ? t.numel() % known == 0 : t.numel() == known);
      if (!fits) {
        throw LoadError("reshape rule '" + options.reshapes[i].pattern + "': key '" + item.key() + "' has shape " +
                        shape_text(t.sizes()) + " (" + std::to_string(t.numel()) + " elements), which cannot become " +
                        shape_text(want));
      }
      t = t.reshape(want);
    }
    out.insert(item.key(), t);
  }
  return out;
}
}  // namespace

StateDict remap_keys(const StateDict& sd, const LoadOptions& options) {
  bool strip = options.strip_module_prefix && !sd.is_empty();
  const std::string module_prefix = kModulePrefix;
  for (const auto& item : sd) {
    if (!strip) break;
    strip = item.key().compare(0, module_prefix.size(), module_prefix) == 0;
  }

  std::vector<std::regex> patterns;
  patterns.reserve(options.renames.size());
  for (const auto& rule : options.renames) {
    try {
      patterns.emplace_back(rule.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw LoadError("rename rule: pattern '" + rule.pattern +
                      "' is not a valid regular expression (" + e.what() + ")");
    }
  }

  StateDict out;
  std::unordered_map<std::string, std::string> origin;  // new key -> original key
  for (const auto& item : sd) {
    std::string key = strip ? item.key().substr(module_prefix.size()) : item.key();
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      std::smatch m;
      if (std::regex_match(key, m, patterns[i])) key = m.format(options.renames[i].replacement);
    }
    if (key.empty()) {
      throw LoadError("rename rules turn key '" + item.key() + "' into an empty key");
    }
    auto [it, inserted] = origin.emplace(key, item.key());
    if (!inserted) {
      throw LoadError("key remapping maps both '" + it->second + "' and '" + item.key() +
                      "' to '" + key + "'");
    }
    out.insert(key, item.value());
  }
  return reshape_keys(out, options);
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& sd,
                           const LoadOptions& options) {
  const StateDict file = remap_keys(sd, options);

  std::vector<Slot> slots;
  collect(module, "", slots);

  // 1. Validate everything; nothing is written yet.
  LoadReport report;
  std::vector<std::pair<Slot*, const at::Tensor*>> plan;
  std::vector<Slot*> to_default;
  std::unordered_set<std::string> module_keys;
  for (auto& slot : slots) {
    module_keys.insert(slot.key);
    const at::Tensor* src = file.find(slot.key);
    if (src == nullptr || !src->defined()) {
      if (slot.buffer && leaf_name(slot.key) == kBatchesTracked) {
        report.defaulted.push_back(slot.key);
        to_default.push_back(&slot);
      } else {
        report.missing.push_back(slot.key);
        report.shapes[slot.key] = shape_of(slot.tensor);
      }
      continue;
    }
    if (src->sizes() != slot.tensor.sizes()) {
      report.mismatched.push_back({slot.key, shape_of(slot.tensor), shape_of(*src), ""});
      continue;
    }
    const auto want = slot.tensor.scalar_type(), have = src->scalar_type();
    if (want != have && !(c10::isFloatingType(want) && c10::isFloatingType(have))) {
      report.mismatched.push_back({slot.key, shape_of(slot.tensor), shape_of(*src),
                                   std::string("dtype: module ") + c10::toString(want) +
                                       ", file " + c10::toString(have) +
                                       "; only floating-point dtypes are converted"});
      continue;
    }
    plan.emplace_back(&slot, src);
  }
  for (const auto& item : file) {
    if (!module_keys.count(item.key())) {
      report.unexpected.push_back(item.key());
      report.shapes[item.key()] =
          item.value().defined() ? shape_of(item.value()) : std::vector<int64_t>{};
    }
  }
  std::sort(report.missing.begin(), report.missing.end());
  std::sort(report.unexpected.begin(), report.unexpected.end());
  std::sort(report.defaulted.begin(), report.defaulted.end());
  std::sort(report.mismatched.begin(), report.mismatched.end(),
            [](const Mismatch& a, const Mismatch& b) { return a.key < b.key; });

  if (options.strict && !report.ok()) {
    const std::size_t problems =
        report.missing.size() + report.unexpected.size() + report.mismatched.size();
    throw LoadError("load_state_dict into " + module.name() + ": " + std::to_string(problems) +
                    " problem" + (problems == 1 ? "" : "s") + " (strict mode; nothing was loaded; " +
                    std::to_string(plan.size()) + " of " + std::to_string(slots.size()) +
                    " module tensors matched)\n" + report.to_string());
  }

  // 2. Load.
  at::NoGradGuard no_grad;
  for (auto& [slot, src] : plan) {
    at::Tensor& dst = slot->tensor;
    const bool same_kind = src->scalar_type() == dst.scalar_type() && src->device() == dst.device();
    if (options.alias && same_kind && src->is_contiguous()) {
      dst.set_(*src);
      ++report.aliased;
    } else {
      dst.copy_(*src);
    }
    ++report.loaded;
  }
  for (Slot* slot : to_default) slot->tensor.zero_();
  return report;
}

}  // namespace modelzoo::state_dict
