#pragma once
/// \file
/// Named VGG factories, as torchvision's builders: `modelzoo::vgg19(true)` is
/// `get_model("vgg19", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/vgg.h"

namespace modelzoo {

/// VGG 11 (configuration "A").
models::VGG vgg11(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 11 with batch normalisation.
models::VGG vgg11_bn(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 13 (configuration "B").
models::VGG vgg13(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 13 with batch normalisation.
models::VGG vgg13_bn(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 16 (configuration "D").
models::VGG vgg16(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 16 with batch normalisation.
models::VGG vgg16_bn(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 19 (configuration "E").
models::VGG vgg19(bool pretrained = false, const HubOptions& options = default_hub_options());
/// VGG 19 with batch normalisation.
models::VGG vgg19_bn(bool pretrained = false, const HubOptions& options = default_hub_options());

/// VGG 11 with the given weights.
models::VGG vgg11(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 11-BN with the given weights.
models::VGG vgg11_bn(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 13 with the given weights.
models::VGG vgg13(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 13-BN with the given weights.
models::VGG vgg13_bn(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 16 with the given weights.
models::VGG vgg16(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 16-BN with the given weights.
models::VGG vgg16_bn(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 19 with the given weights.
models::VGG vgg19(const Weights& weights, const HubOptions& options = default_hub_options());
/// VGG 19-BN with the given weights.
models::VGG vgg19_bn(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
