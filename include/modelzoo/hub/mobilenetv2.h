#pragma once
/// \file
/// Named MobileNet v2 factory, as torchvision's builder:
/// `modelzoo::mobilenet_v2(true)` is `get_model("mobilenet_v2",
/// Weights::default_weights())` with its concrete type. `pretrained = true`
/// means the registry's default weights; the Weights overload takes a tag, a
/// custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/mobilenetv2.h"

namespace modelzoo {

/// MobileNet v2.
models::MobileNetV2 mobilenet_v2(bool pretrained = false,
                                 const HubOptions& options = default_hub_options());
/// MobileNet v2 with the given weights.
models::MobileNetV2 mobilenet_v2(const Weights& weights,
                                 const HubOptions& options = default_hub_options());

}  // namespace modelzoo
