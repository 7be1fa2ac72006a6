#pragma once
/// \file
/// Named ConvNeXt factories, as torchvision's builders: `modelzoo::convnext_tiny(true)` is
/// `get_model("convnext_tiny", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/convnext.h"

namespace modelzoo {

/// ConvNeXt-T.
models::ConvNeXt convnext_tiny(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ConvNeXt-S.
models::ConvNeXt convnext_small(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ConvNeXt-B.
models::ConvNeXt convnext_base(bool pretrained = false, const HubOptions& options = default_hub_options());
/// ConvNeXt-L.
models::ConvNeXt convnext_large(bool pretrained = false, const HubOptions& options = default_hub_options());

/// ConvNeXt-T with the given weights.
models::ConvNeXt convnext_tiny(const Weights& weights, const HubOptions& options = default_hub_options());
/// ConvNeXt-S with the given weights.
models::ConvNeXt convnext_small(const Weights& weights, const HubOptions& options = default_hub_options());
/// ConvNeXt-B with the given weights.
models::ConvNeXt convnext_base(const Weights& weights, const HubOptions& options = default_hub_options());
/// ConvNeXt-L with the given weights.
models::ConvNeXt convnext_large(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
