#pragma once
/// \file
/// Named SqueezeNet factories, as torchvision's builders: `modelzoo::squeezenet1_0(true)`
/// is `get_model("squeezenet1_0", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/squeezenet.h"

namespace modelzoo {

/// SqueezeNet 1.0.
models::SqueezeNet squeezenet1_0(bool pretrained = false, const HubOptions& options = default_hub_options());
/// SqueezeNet 1.1.
models::SqueezeNet squeezenet1_1(bool pretrained = false, const HubOptions& options = default_hub_options());

/// SqueezeNet 1.0 with the given weights.
models::SqueezeNet squeezenet1_0(const Weights& weights, const HubOptions& options = default_hub_options());
/// SqueezeNet 1.1 with the given weights.
models::SqueezeNet squeezenet1_1(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
