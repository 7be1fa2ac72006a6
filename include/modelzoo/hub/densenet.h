#pragma once
/// \file
/// Named DenseNet factories, as torchvision's builders: `modelzoo::densenet121(true)`
/// is `get_model("densenet121", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/densenet.h"

namespace modelzoo {

/// DenseNet-121.
models::DenseNet densenet121(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DenseNet-161.
models::DenseNet densenet161(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DenseNet-169.
models::DenseNet densenet169(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DenseNet-201.
models::DenseNet densenet201(bool pretrained = false, const HubOptions& options = default_hub_options());

/// DenseNet-121 with the given weights.
models::DenseNet densenet121(const Weights& weights, const HubOptions& options = default_hub_options());
/// DenseNet-161 with the given weights.
models::DenseNet densenet161(const Weights& weights, const HubOptions& options = default_hub_options());
/// DenseNet-169 with the given weights.
models::DenseNet densenet169(const Weights& weights, const HubOptions& options = default_hub_options());
/// DenseNet-201 with the given weights.
models::DenseNet densenet201(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
