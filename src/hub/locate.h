#pragma once
// Where the file of a weights request is, for get_model and the task models'
// loader alike: a local file used in place (verified when a hash was given),
// else the cache, fetched when needed (a Hub source gets the registry entry's
// pins when the entry names the same file; a registry tag's hash mismatch
// says how many sources the pinned value has).
#include <string>

#include "modelzoo/fetch/fetch.h"
#include "modelzoo/hub/hub.h"
#include "modelzoo/registry/registry.h"

namespace modelzoo::detail {

/// `entry`: the registry entry the request resolved to; required for Default
/// and Tag weights, may be null otherwise.
fetch::FetchResult locate_weights(const std::string& name, const Weights& weights,
                                  const registry::WeightsEntry* entry, const HubOptions& options);

}  // namespace modelzoo::detail
