#pragma once
/// \file
/// Named MNASNet factories, as torchvision's builders: `modelzoo::mnasnet0_5(true)` is
/// `get_model("mnasnet0_5", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/mnasnet.h"

namespace modelzoo {

/// MNASNet, depth multiplier 0.5.
models::MNASNet mnasnet0_5(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 0.75.
models::MNASNet mnasnet0_75(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 1.0.
models::MNASNet mnasnet1_0(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 1.3.
models::MNASNet mnasnet1_3(bool pretrained = false, const HubOptions& options = default_hub_options());

/// MNASNet, depth multiplier 0.5, with the given weights.
models::MNASNet mnasnet0_5(const Weights& weights, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 0.75, with the given weights.
models::MNASNet mnasnet0_75(const Weights& weights, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 1.0, with the given weights.
models::MNASNet mnasnet1_0(const Weights& weights, const HubOptions& options = default_hub_options());
/// MNASNet, depth multiplier 1.3, with the given weights.
models::MNASNet mnasnet1_3(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
