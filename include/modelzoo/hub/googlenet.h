#pragma once
/// \file
/// Named GoogLeNet factories, as torchvision's builders: `modelzoo::googlenet(true)` is
/// `get_model("googlenet", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/googlenet.h"

namespace modelzoo {

/// GoogLeNet (Inception v1); pretrained: transform_input on.
models::GoogLeNet googlenet(bool pretrained = false, const HubOptions& options = default_hub_options());

/// GoogLeNet (Inception v1), with the given weights.
models::GoogLeNet googlenet(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
