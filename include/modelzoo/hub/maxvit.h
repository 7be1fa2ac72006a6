#pragma once
/// \file
/// Named MaxViT factory, as torchvision's builder: `modelzoo::maxvit_t(true)`
/// is `get_model("maxvit_t", Weights::default_weights())` with its concrete
/// type (built for the weights' 224 x 224 input).

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/maxvit.h"

namespace modelzoo {

/// MaxViT-T.
models::MaxVit maxvit_t(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MaxViT-T with the given weights.
models::MaxVit maxvit_t(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
