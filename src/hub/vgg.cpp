#include "modelzoo/hub/vgg.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::VGG, vgg11)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg11_bn)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg13)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg13_bn)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg16)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg16_bn)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg19)
MODELZOO_DEFINE_FACTORY(models::VGG, vgg19_bn)

}  // namespace modelzoo
