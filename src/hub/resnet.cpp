#include "modelzoo/hub/resnet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::ResNet, resnet18)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnet34)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnet50)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnet101)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnet152)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnext50_32x4d)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnext101_32x8d)
MODELZOO_DEFINE_FACTORY(models::ResNet, resnext101_64x4d)
MODELZOO_DEFINE_FACTORY(models::ResNet, wide_resnet50_2)
MODELZOO_DEFINE_FACTORY(models::ResNet, wide_resnet101_2)

}  // namespace modelzoo
