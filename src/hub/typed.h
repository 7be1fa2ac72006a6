#pragma once
// get_model with the concrete module type, for the named factories
// (src/hub/<family>.cpp).
#include <memory>
#include <string>

#include "modelzoo/error.h"
#include "modelzoo/hub/hub.h"

namespace modelzoo::detail {

template <typename Holder>
Holder typed_model(const std::string& name, const Weights& weights, const HubOptions& options) {
  Classifier model = get_model(name, weights, options);
  auto impl = std::dynamic_pointer_cast<typename Holder::ContainedType>(model.ptr());
  if (!impl) throw Error("architecture '" + name + "' did not build the expected module type");
  return Holder(impl);
}

inline Weights weights_from_flag(bool pretrained) {
  return pretrained ? Weights::default_weights() : Weights::none();
}

}  // namespace modelzoo::detail

/// Defines `holder name(bool pretrained, const HubOptions&)` and
/// `holder name(const Weights&, const HubOptions&)` for a registered architecture.
#define MODELZOO_DEFINE_FACTORY(holder, name)                                          \
  holder name(bool pretrained, const HubOptions& options) {                            \
    return detail::typed_model<holder>(#name, detail::weights_from_flag(pretrained), options); \
  }                                                                                    \
  holder name(const Weights& weights, const HubOptions& options) {                     \
    return detail::typed_model<holder>(#name, weights, options);                       \
  }
