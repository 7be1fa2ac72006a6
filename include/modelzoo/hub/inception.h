#pragma once
/// \file
/// Named Inception v3 factories, as torchvision's builders: `modelzoo::inception_v3(true)` is
/// `get_model("inception_v3", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/inception.h"

namespace modelzoo {

/// Inception v3 (299 x 299 input); pretrained: transform_input on.
models::Inception3 inception_v3(bool pretrained = false, const HubOptions& options = default_hub_options());

/// Inception v3 (299 x 299 input), with the given weights.
models::Inception3 inception_v3(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
