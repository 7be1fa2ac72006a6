#pragma once
/// \file
/// Named Vision Transformer factories, as torchvision's builders:
/// `modelzoo::vit_b_16(true)` is `get_model("vit_b_16",
/// Weights::default_weights())` with its concrete type. The weights decide the
/// input size: the hub builds the model for the weights' min_size (224 for
/// IMAGENET1K_V1 and *_SWAG_LINEAR_V1, 384 / 512 / 518 for *_SWAG_E2E_V1).

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/vision_transformer.h"

namespace modelzoo {

/// ViT-B/16.
models::VisionTransformer vit_b_16(bool pretrained = false,
                                   const HubOptions& options = default_hub_options());
/// ViT-B/32.
models::VisionTransformer vit_b_32(bool pretrained = false,
                                   const HubOptions& options = default_hub_options());
/// ViT-L/16.
models::VisionTransformer vit_l_16(bool pretrained = false,
                                   const HubOptions& options = default_hub_options());
/// ViT-L/32.
models::VisionTransformer vit_l_32(bool pretrained = false,
                                   const HubOptions& options = default_hub_options());
/// ViT-H/14 (~632M parameters, 2.5 GB in float32).
models::VisionTransformer vit_h_14(bool pretrained = false,
                                   const HubOptions& options = default_hub_options());

/// ViT-B/16 with the given weights.
models::VisionTransformer vit_b_16(const Weights& weights,
                                   const HubOptions& options = default_hub_options());
/// ViT-B/32 with the given weights.
models::VisionTransformer vit_b_32(const Weights& weights,
                                   const HubOptions& options = default_hub_options());
/// ViT-L/16 with the given weights.
models::VisionTransformer vit_l_16(const Weights& weights,
                                   const HubOptions& options = default_hub_options());
/// ViT-L/32 with the given weights.
models::VisionTransformer vit_l_32(const Weights& weights,
                                   const HubOptions& options = default_hub_options());
/// ViT-H/14 with the given weights.
models::VisionTransformer vit_h_14(const Weights& weights,
                                   const HubOptions& options = default_hub_options());

}  // namespace modelzoo
