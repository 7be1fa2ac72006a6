#pragma once
/// \file
/// Named AlexNet factories, as torchvision's builders: `modelzoo::alexnet(true)`
/// is `get_model("alexnet", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/alexnet.h"

namespace modelzoo {

/// AlexNet.
models::AlexNet alexnet(bool pretrained = false, const HubOptions& options = default_hub_options());

/// AlexNet with the given weights.
models::AlexNet alexnet(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
