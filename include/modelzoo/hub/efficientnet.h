#pragma once
/// \file
/// Named EfficientNet (v1 B0-B7 and v2 S/M/L) factories, as torchvision's builders: `modelzoo::efficientnet_b0(true)` is
/// `get_model("efficientnet_b0", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/efficientnet.h"

namespace modelzoo {

/// EfficientNet-B0.
models::EfficientNet efficientnet_b0(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B1.
models::EfficientNet efficientnet_b1(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B2.
models::EfficientNet efficientnet_b2(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B3.
models::EfficientNet efficientnet_b3(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B4.
models::EfficientNet efficientnet_b4(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B5.
models::EfficientNet efficientnet_b5(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B6.
models::EfficientNet efficientnet_b6(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNet-B7.
models::EfficientNet efficientnet_b7(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNetV2-S.
models::EfficientNet efficientnet_v2_s(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNetV2-M.
models::EfficientNet efficientnet_v2_m(bool pretrained = false, const HubOptions& options = default_hub_options());
/// EfficientNetV2-L.
models::EfficientNet efficientnet_v2_l(bool pretrained = false, const HubOptions& options = default_hub_options());

/// EfficientNet-B0 with the given weights.
models::EfficientNet efficientnet_b0(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B1 with the given weights.
models::EfficientNet efficientnet_b1(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B2 with the given weights.
models::EfficientNet efficientnet_b2(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B3 with the given weights.
models::EfficientNet efficientnet_b3(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B4 with the given weights.
models::EfficientNet efficientnet_b4(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B5 with the given weights.
models::EfficientNet efficientnet_b5(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B6 with the given weights.
models::EfficientNet efficientnet_b6(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNet-B7 with the given weights.
models::EfficientNet efficientnet_b7(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNetV2-S with the given weights.
models::EfficientNet efficientnet_v2_s(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNetV2-M with the given weights.
models::EfficientNet efficientnet_v2_m(const Weights& weights, const HubOptions& options = default_hub_options());
/// EfficientNetV2-L with the given weights.
models::EfficientNet efficientnet_v2_l(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
