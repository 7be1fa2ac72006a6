#pragma once
/// \file
/// Moving tensors between a module and a state dict with Python's semantics:
/// keys as `module.state_dict()` names them (parameters and buffers, module by
/// module), a strict mode that reports every missing, unexpected and
/// shape-mismatched key in one error, and key remapping for files whose names
/// differ (DataParallel's `module.` prefix, old DenseNet names, caffe exports).

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "modelzoo/io/io.h"

namespace modelzoo::state_dict {

using io::StateDict;

/// A key rename: every key matching `pattern` (ECMAScript regex, whole key)
/// becomes `replacement` (with $1.. groups).
struct RenameRule {
  std::string pattern;
  std::string replacement;
};

/// How to load.
struct LoadOptions {
  bool strict = true;                  ///< throw LoadError unless report.ok()
  bool strip_module_prefix = true;     ///< "module.x" -> "x" when every key has it
  std::vector<RenameRule> renames;     ///< applied in order, before matching
  bool alias = true;                   ///< parameters share the file's memory when dtype/device match
};

/// A key whose shape differs between the file and the module.
struct Mismatch {
  std::string key;
  std::vector<int64_t> expected;  ///< module's shape
  std::vector<int64_t> found;     ///< file's shape
};

/// What load_state_dict did.
struct LoadReport {
  std::vector<std::string> missing;      ///< in the module, not in the file
  std::vector<std::string> unexpected;   ///< in the file, not in the module
  std::vector<Mismatch> mismatched;
  std::size_t loaded = 0;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// Human-readable listing of every problem.
  std::string to_string() const;
};

/// The module's state dict: parameters then buffers of each module,
/// depth-first, with Python's dotted names (as torch.nn.Module.state_dict()).
StateDict state_dict(const torch::nn::Module& module);

/// Loads `sd` into `module`. In strict mode, any problem throws LoadError
/// listing all of them; otherwise matching keys are loaded and the report
/// says what was skipped.
LoadReport load_state_dict(torch::nn::Module& module, const StateDict& sd,
                           const LoadOptions& options = {});

/// Applies the renames (and module-prefix stripping) of `options` to `sd`.
StateDict remap_keys(const StateDict& sd, const LoadOptions& options);

}  // namespace modelzoo::state_dict
