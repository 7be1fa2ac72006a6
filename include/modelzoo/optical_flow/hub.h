#pragma once
/// \file
/// Optical flow by name, through the same registry, cache and Weights as
/// get_model(): `modelzoo::raft_small(true)` builds RAFT-small with its
/// C_T_V2 weights in eval mode. Registry entries have `"task": "optical_flow"`.
/// Frames go through transforms::optical_flow_preset(); forward(a, b, 12)
/// gives the final flow, forward_all(a, b, n) every iteration's.

#include <string>
#include <vector>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"
#include "modelzoo/optical_flow/raft.h"

namespace modelzoo {

using optical_flow::RAFT;

/// Builds the optical-flow model `name` (a registry name, raft_large or raft_small) with `weights`.
RAFT get_flow_model(const std::string& name, const Weights& weights = Weights::none(),
                    const HubOptions& options = default_hub_options());

/// Names of the optical-flow architectures, sorted.
std::vector<std::string> list_flow_models();

/// RAFT-large.
RAFT raft_large(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RAFT-small.
RAFT raft_small(bool pretrained = false, const HubOptions& options = default_hub_options());
/// RAFT-large with the given weights.
RAFT raft_large(const Weights& weights, const HubOptions& options = default_hub_options());
/// RAFT-small with the given weights.
RAFT raft_small(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
