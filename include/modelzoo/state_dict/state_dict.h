#pragma once
/// \file
/// Moving tensors between a module and a state dict with Python's semantics:
/// keys as `module.state_dict()` names them (parameters and buffers, module by
/// module), a strict mode that reports every missing, unexpected and
/// shape-mismatched key in one error, and key remapping for files whose names
/// differ (DataParallel's `module.` prefix, old DenseNet names, caffe exports).
///
/// Loading, step by step (load_state_dict):
/// 1. remap_keys(): strip `module.` when every key has it, then apply the
///    rename rules in order.
/// 2. Match every parameter and buffer of the module (state_dict() order)
///    against the file: missing, unexpected, shape-mismatched, and dtype-
///    incompatible (an integer/bool tensor against a different dtype) keys are
///    collected. A missing `num_batches_tracked` buffer is not an error: it is
///    set to 0 and listed in LoadReport::defaulted, as Python does for
///    checkpoints written before BatchNorm had that buffer (torchvision's own
///    pre-2018 *_bn weights).
/// 3. Strict mode with any problem: throw LoadError listing all of them; the
///    module is left untouched (everything is validated before anything is
///    written).
/// 4. Load, under NoGradGuard. With `alias` (the default), when the file's
///    tensor has the parameter's dtype, device and shape and is contiguous,
///    the parameter takes the file tensor's storage (`param.set_(t)`): no copy
///    at all, so a module loaded from an mmap'd file reads the mapping
///    directly. The module then shares memory with `sd`: writing to one is
///    visible in the other (use alias = false to get independent copies, as
///    Python's load_state_dict always does). Otherwise the values are copied
///    with `copy_`, which converts between floating-point dtypes (a float16
///    file into a float32 model, say) and across devices.
///
/// Difference from Python: non-strict mode also skips shape-mismatched keys
/// (reporting them) where Python raises.

#include <map>
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
  std::string pattern;      ///< e.g. R"(conv1_(\d)\.(weight|bias))"
  std::string replacement;  ///< e.g. "features.$1.$2"
};

/// A reshape of a file tensor: every (renamed) key matching `pattern`
/// (ECMAScript regex, whole key) is viewed with `shape` (one -1 may stand for
/// the remaining size); the number of elements must stay the same. For files
/// that store a parameter flat, e.g. timm's ConvNeXt `gamma` (C) for
/// torchvision's `layer_scale` (C x 1 x 1).
struct ReshapeRule {
  std::string pattern;          ///< e.g. R"(features\.\d+\.\d+\.layer_scale)"
  std::vector<int64_t> shape;   ///< e.g. {-1, 1, 1}
};

/// How to load.
struct LoadOptions {
  bool strict = true;                  ///< throw LoadError unless report.ok()
  bool strip_module_prefix = true;     ///< "module.x" -> "x" when every key has it
  std::vector<RenameRule> renames;     ///< applied in order, before matching
  std::vector<ReshapeRule> reshapes;   ///< applied after the renames, before matching
  /// Parameters and buffers take the file tensor's storage when dtype,
  /// device and shape match and it is contiguous (zero copy); else copy_.
  bool alias = true;
};

/// A key whose tensor in the file does not fit the module's: another shape,
/// or a dtype that is not converted (see the file comment).
struct Mismatch {
  std::string key;                ///< the (remapped) key
  std::vector<int64_t> expected;  ///< module's shape
  std::vector<int64_t> found;     ///< file's shape
  /// Empty for a shape mismatch; else what is incompatible, e.g.
  /// "dtype: module Long, file Float".
  std::string detail;
};

/// What load_state_dict did.
struct LoadReport {
  std::vector<std::string> missing;      ///< in the module, not in the file
  std::vector<std::string> unexpected;   ///< in the file, not in the module
  std::vector<Mismatch> mismatched;
  /// Absent from the file but given their default (num_batches_tracked = 0).
  std::vector<std::string> defaulted;
  /// Shape of every missing key (module's) and unexpected key (file's).
  std::map<std::string, std::vector<int64_t>> shapes;
  std::size_t loaded = 0;   ///< tensors written into the module
  std::size_t aliased = 0;  ///< of which took the file's storage without a copy
  /// No missing, unexpected or mismatched key.
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// Human-readable listing of every problem.
  std::string to_string() const;
};

/// The module's state dict: parameters then buffers of each module,
/// depth-first, with Python's dotted names (as torch.nn.Module.state_dict()).
StateDict state_dict(const torch::nn::Module& module);

/// Loads `sd` into `module` (see the file comment). In strict mode, any
/// problem throws LoadError listing all of them (sorted, with shapes) and
/// nothing is loaded; otherwise matching keys are loaded and the report says
/// what was skipped.
LoadReport load_state_dict(torch::nn::Module& module, const StateDict& sd,
                           const LoadOptions& options = {});

/// Applies the renames (and module-prefix stripping), then the reshapes, of
/// `options` to `sd`, keeping the order. Throws LoadError for an invalid
/// pattern, a rename to an empty key, two keys renamed to the same one, or a
/// reshape that does not fit the tensor (naming the key and both shapes).
StateDict remap_keys(const StateDict& sd, const LoadOptions& options);

}  // namespace modelzoo::state_dict
