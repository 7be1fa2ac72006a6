#pragma once
/// \file
/// Named Swin Transformer factories, as torchvision's builders:
/// `modelzoo::swin_t(true)` is `get_model("swin_t", Weights::default_weights())`
/// with its concrete type.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/swin_transformer.h"

namespace modelzoo {

/// Swin-T.
models::SwinTransformer swin_t(bool pretrained = false, const HubOptions& options = default_hub_options());
/// Swin-S.
models::SwinTransformer swin_s(bool pretrained = false, const HubOptions& options = default_hub_options());
/// Swin-B.
models::SwinTransformer swin_b(bool pretrained = false, const HubOptions& options = default_hub_options());
/// Swin-V2-T.
models::SwinTransformer swin_v2_t(bool pretrained = false, const HubOptions& options = default_hub_options());
/// Swin-V2-S.
models::SwinTransformer swin_v2_s(bool pretrained = false, const HubOptions& options = default_hub_options());
/// Swin-V2-B.
models::SwinTransformer swin_v2_b(bool pretrained = false, const HubOptions& options = default_hub_options());

/// Swin-T with the given weights.
models::SwinTransformer swin_t(const Weights& weights, const HubOptions& options = default_hub_options());
/// Swin-S with the given weights.
models::SwinTransformer swin_s(const Weights& weights, const HubOptions& options = default_hub_options());
/// Swin-B with the given weights.
models::SwinTransformer swin_b(const Weights& weights, const HubOptions& options = default_hub_options());
/// Swin-V2-T with the given weights.
models::SwinTransformer swin_v2_t(const Weights& weights, const HubOptions& options = default_hub_options());
/// Swin-V2-S with the given weights.
models::SwinTransformer swin_v2_s(const Weights& weights, const HubOptions& options = default_hub_options());
/// Swin-V2-B with the given weights.
models::SwinTransformer swin_v2_b(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
