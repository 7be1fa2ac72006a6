#include "modelzoo/hub/mobilenetv3.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::MobileNetV3, mobilenet_v3_large)
MODELZOO_DEFINE_FACTORY(models::MobileNetV3, mobilenet_v3_small)

}  // namespace modelzoo
