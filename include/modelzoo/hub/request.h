#pragma once
/// \file
/// A model request as the command-line tools take it: `--model NAME[:TAG]`,
/// `--weights SOURCE` and `--sha256 HEX`. No torch types here.

#include <string>
#include <utility>

#include "modelzoo/hub/weights.h"

namespace modelzoo {

/// NAME or NAME:TAG, with an optional weights source: a URL (its SHA-256 from
/// `sha256` or its `#sha256=HEX` fragment, not both), an `hf://` source
/// (`sha256` optional), or a local file (`sha256` optional). Returns the
/// model name and its Weights; throws Error naming the option (--model,
/// --weights, --sha256) for an empty name or tag, a tag together with
/// weights, a URL without its hash, two hashes, or a hash with nothing to
/// check.
std::pair<std::string, Weights> parse_model_request(const std::string& model, const std::string& weights,
                                                    const std::string& sha256);

}  // namespace modelzoo
