#pragma once
/// \file
/// Optimizer state between LibTorch's `torch::optim` and Python's
/// torch.optim checkpoint layout, so a training run can move between the two
/// with its optimizer (the usual `{'model': ..., 'optimizer':
/// optimizer.state_dict(), 'epoch': n}` checkpoint).
///
/// torch.optim's layout (torch 1.13), as torch.save pickles it:
///
///     {'state': {0: {'momentum_buffer': tensor}, 1: {...}, ...},
///      'param_groups': [{'lr': 0.1, 'momentum': 0.9, ..., 'params': [0, 1, ...]}, ...]}
///
/// Parameters are numbered in the order of the groups and of the parameters
/// within each group (what `optimizer.param_groups` lists, i.e.
/// `model.parameters()` order for a single group); `state` holds an entry
/// only for parameters that have been stepped. Per optimizer:
///
/// | optimizer | per-parameter state | group options |
/// |---|---|---|
/// | SGD | `momentum_buffer` (tensor, or None without momentum) | `lr`, `momentum`, `dampening`, `weight_decay`, `nesterov`, `maximize`, `foreach`, `differentiable` |
/// | Adam | `step` (float tensor), `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad) | `lr`, `betas`, `eps`, `weight_decay`, `amsgrad`, `maximize`, `foreach`, `capturable`, `differentiable`, `fused` |
///
/// Loading replaces the optimizer's group options with the file's, as
/// Python's `load_state_dict` does. Options LibTorch 1.13 does not implement
/// (`maximize: True`) are refused; execution-strategy flags (`foreach`,
/// `capturable`, `differentiable`, `fused`) do not change the arithmetic and
/// are ignored.

#include <torch/optim/optimizer.h>

#include "modelzoo/io/value.h"

namespace modelzoo::state_dict {

/// `optimizer.state_dict()` as Python's torch.optim would give it for
/// `optimizer` (a torch::optim::SGD or torch::optim::Adam): write it with
/// io::write (e.g. as the "optimizer" entry of a checkpoint dict) and
/// `torch.optim.SGD(...).load_state_dict(ckpt['optimizer'])` continues from
/// it. State tensors are shared, not copied. Throws Error for another
/// optimizer type.
io::Value optimizer_state_dict(const torch::optim::Optimizer& optimizer);

/// Loads torch.optim's `state_dict` layout (what torch.load returns for a
/// saved `optimizer.state_dict()`) into `optimizer`, which must be a
/// torch::optim::SGD or Adam over parameters of the same number and shapes,
/// grouped the same way. Group options are replaced by the file's; state
/// tensors are copied onto the parameters' device and dtype. Everything is
/// checked before anything changes: on error (LoadError naming the group,
/// parameter index and key) the optimizer is left as it was.
void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const io::Value& state);

}  // namespace modelzoo::state_dict
