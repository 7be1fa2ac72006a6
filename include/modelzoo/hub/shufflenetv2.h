#pragma once
/// \file
/// Named ShuffleNet v2 factories, as torchvision's builders: `modelzoo::shufflenet_v2_x0_5(true)` is
/// `get_model("shufflenet_v2_x0_5", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/shufflenetv2.h"

namespace modelzoo {

/// ShuffleNet v2 with 0.5x output channels.
models::ShuffleNetV2 shufflenet_v2_x0_5(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 1.0x output channels.
models::ShuffleNetV2 shufflenet_v2_x1_0(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 1.5x output channels.
models::ShuffleNetV2 shufflenet_v2_x1_5(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 2.0x output channels.
models::ShuffleNetV2 shufflenet_v2_x2_0(bool pretrained = false, const HubOptions& options = default_hub_options());

/// ShuffleNet v2 with 0.5x output channels, with the given weights.
models::ShuffleNetV2 shufflenet_v2_x0_5(const Weights& weights, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 1.0x output channels, with the given weights.
models::ShuffleNetV2 shufflenet_v2_x1_0(const Weights& weights, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 1.5x output channels, with the given weights.
models::ShuffleNetV2 shufflenet_v2_x1_5(const Weights& weights, const HubOptions& options = default_hub_options());
/// ShuffleNet v2 with 2.0x output channels, with the given weights.
models::ShuffleNetV2 shufflenet_v2_x2_0(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
