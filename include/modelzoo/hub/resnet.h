#pragma once
/// \file
/// Named ResNet, ResNeXt and Wide ResNet factories, as torchvision's builders:
/// `modelzoo::resnet50(true)` is `get_model("resnet50",
/// Weights::default_weights())` with its concrete type. `pretrained = true`
/// means the registry's default weights (IMAGENET1K_V2 where torchvision has
/// them); the Weights overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/resnet.h"

namespace modelzoo {

/// ResNet-18.
models::ResNet resnet18(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ResNet-34.
models::ResNet resnet34(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ResNet-50.
models::ResNet resnet50(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ResNet-101.
models::ResNet resnet101(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ResNet-152.
models::ResNet resnet152(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ResNeXt-50 32x4d.
models::ResNet resnext50_32x4d(bool pretrained = false,
                               const HubOptions& options = default_hub_options());
/// ResNeXt-101 32x8d.
models::ResNet resnext101_32x8d(bool pretrained = false,
                                const HubOptions& options = default_hub_options());
/// ResNeXt-101 64x4d.
models::ResNet resnext101_64x4d(bool pretrained = false,
                                const HubOptions& options = default_hub_options());
/// Wide ResNet-50-2.
models::ResNet wide_resnet50_2(bool pretrained = false,
                               const HubOptions& options = default_hub_options());
/// Wide ResNet-101-2.
models::ResNet wide_resnet101_2(bool pretrained = false,
                                const HubOptions& options = default_hub_options());

/// ResNet-18 with the given weights.
models::ResNet resnet18(const Weights& weights, const HubOptions& options = default_hub_options());
/// ResNet-34 with the given weights.
models::ResNet resnet34(const Weights& weights, const HubOptions& options = default_hub_options());
/// ResNet-50 with the given weights.
models::ResNet resnet50(const Weights& weights, const HubOptions& options = default_hub_options());
/// ResNet-101 with the given weights.
models::ResNet resnet101(const Weights& weights, const HubOptions& options = default_hub_options());
/// ResNet-152 with the given weights.
models::ResNet resnet152(const Weights& weights, const HubOptions& options = default_hub_options());
/// ResNeXt-50 32x4d with the given weights.
models::ResNet resnext50_32x4d(const Weights& weights,
                               const HubOptions& options = default_hub_options());
/// ResNeXt-101 32x8d with the given weights.
models::ResNet resnext101_32x8d(const Weights& weights,
                                const HubOptions& options = default_hub_options());
/// ResNeXt-101 64x4d with the given weights.
models::ResNet resnext101_64x4d(const Weights& weights,
                                const HubOptions& options = default_hub_options());
/// Wide ResNet-50-2 with the given weights.
models::ResNet wide_resnet50_2(const Weights& weights,
                               const HubOptions& options = default_hub_options());
/// Wide ResNet-101-2 with the given weights.
models::ResNet wide_resnet101_2(const Weights& weights,
                                const HubOptions& options = default_hub_options());

}  // namespace modelzoo
