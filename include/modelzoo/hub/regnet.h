#pragma once
/// \file
/// Named RegNet X and Y factories, as torchvision's builders: `modelzoo::regnet_x_400mf(true)` is
/// `get_model("regnet_x_400mf", Weights::default_weights())` with its concrete type.
/// `pretrained = true` means the registry's default weights; the Weights
/// overloads take a tag, a custom URL or a local file.

#include "modelzoo/hub/hub.h"
#include "modelzoo/models/regnet.h"

namespace modelzoo {

/// RegNetX-400MF.
models::RegNet regnet_x_400mf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-800MF.
models::RegNet regnet_x_800mf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-1.6GF.
models::RegNet regnet_x_1_6gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-3.2GF.
models::RegNet regnet_x_3_2gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-8GF.
models::RegNet regnet_x_8gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-16GF.
models::RegNet regnet_x_16gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetX-32GF.
models::RegNet regnet_x_32gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-400MF.
models::RegNet regnet_y_400mf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-800MF.
models::RegNet regnet_y_800mf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-1.6GF.
models::RegNet regnet_y_1_6gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-3.2GF.
models::RegNet regnet_y_3_2gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-8GF.
models::RegNet regnet_y_8gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-16GF.
models::RegNet regnet_y_16gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-32GF.
models::RegNet regnet_y_32gf(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RegNetY-128GF (about 645M parameters).
models::RegNet regnet_y_128gf(bool pretrained = false, const HubOptions& options = default_hub_options());

/// RegNetX-400MF with the given weights.
models::RegNet regnet_x_400mf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-800MF with the given weights.
models::RegNet regnet_x_800mf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-1.6GF with the given weights.
models::RegNet regnet_x_1_6gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-3.2GF with the given weights.
models::RegNet regnet_x_3_2gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-8GF with the given weights.
models::RegNet regnet_x_8gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-16GF with the given weights.
models::RegNet regnet_x_16gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetX-32GF with the given weights.
models::RegNet regnet_x_32gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-400MF with the given weights.
models::RegNet regnet_y_400mf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-800MF with the given weights.
models::RegNet regnet_y_800mf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-1.6GF with the given weights.
models::RegNet regnet_y_1_6gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-3.2GF with the given weights.
models::RegNet regnet_y_3_2gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-8GF with the given weights.
models::RegNet regnet_y_8gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-16GF with the given weights.
models::RegNet regnet_y_16gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-32GF with the given weights.
models::RegNet regnet_y_32gf(const Weights& weights, const HubOptions& options = default_hub_options());
/// RegNetY-128GF with the given weights.
models::RegNet regnet_y_128gf(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
