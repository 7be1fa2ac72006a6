#include "modelzoo/hub/efficientnet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b0)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b1)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b2)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b3)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b4)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b5)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b6)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_b7)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_v2_s)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_v2_m)
MODELZOO_DEFINE_FACTORY(models::EfficientNet, efficientnet_v2_l)

}  // namespace modelzoo
