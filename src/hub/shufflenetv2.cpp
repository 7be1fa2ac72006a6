#include "modelzoo/hub/shufflenetv2.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::ShuffleNetV2, shufflenet_v2_x0_5)
MODELZOO_DEFINE_FACTORY(models::ShuffleNetV2, shufflenet_v2_x1_0)
MODELZOO_DEFINE_FACTORY(models::ShuffleNetV2, shufflenet_v2_x1_5)
MODELZOO_DEFINE_FACTORY(models::ShuffleNetV2, shufflenet_v2_x2_0)

}  // namespace modelzoo
