#include "modelzoo/hub/factories.h"

#include <memory>

#include "modelzoo/error.h"

namespace modelzoo {
namespace {

// get_model with the concrete module type of a named factory.
template <typename Holder>
Holder typed(const std::string& name, const Weights& weights, const HubOptions& options) {
  Classifier model = get_model(name, weights, options);
  auto impl = std::dynamic_pointer_cast<typename Holder::ContainedType>(model.ptr());
  if (!impl) throw Error("architecture '" + name + "' did not build the expected module type");
  return Holder(impl);
}

Weights from_flag(bool pretrained) { return pretrained ? Weights::default_weights() : Weights::none(); }

}  // namespace

#define MODELZOO_FACTORY(holder, name)                                          \
  holder name(bool pretrained, const HubOptions& options) {                     \
    return typed<holder>(#name, from_flag(pretrained), options);                \
  }                                                                             \
  holder name(const Weights& weights, const HubOptions& options) {              \
    return typed<holder>(#name, weights, options);                              \
  }

MODELZOO_FACTORY(models::VGG, vgg11)
MODELZOO_FACTORY(models::VGG, vgg11_bn)
MODELZOO_FACTORY(models::VGG, vgg13)
MODELZOO_FACTORY(models::VGG, vgg13_bn)
MODELZOO_FACTORY(models::VGG, vgg16)
MODELZOO_FACTORY(models::VGG, vgg16_bn)
MODELZOO_FACTORY(models::VGG, vgg19)
MODELZOO_FACTORY(models::VGG, vgg19_bn)

#undef MODELZOO_FACTORY

}  // namespace modelzoo
