#pragma once
/// \file
/// Named MobileNet v3 factories, as torchvision's builders:
/// `modelzoo::mobilenet_v3_large(true)` is `get_model("mobilenet_v3_large",
/// Weights::default_weights())` with its concrete type. `pretrained = true`
/// means the registry's default weights; the Weights overloads take a tag, a
/// custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/mobilenetv3.h"

namespace modelzoo {

/// MobileNet v3 large.
models::MobileNetV3 mobilenet_v3_large(bool pretrained = false,
                                       const HubOptions& options = default_hub_options());
/// MobileNet v3 small.
models::MobileNetV3 mobilenet_v3_small(bool pretrained = false,
                                       const HubOptions& options = default_hub_options());

/// MobileNet v3 large with the given weights.
models::MobileNetV3 mobilenet_v3_large(const Weights& weights,
                                       const HubOptions& options = default_hub_options());
/// MobileNet v3 small with the given weights.
models::MobileNetV3 mobilenet_v3_small(const Weights& weights,
                                       const HubOptions& options = default_hub_options());

}  // namespace modelzoo
