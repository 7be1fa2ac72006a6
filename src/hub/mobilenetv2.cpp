#include "modelzoo/hub/mobilenetv2.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::MobileNetV2, mobilenet_v2)

}  // namespace modelzoo
