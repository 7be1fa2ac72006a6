#include "modelzoo/hub/squeezenet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::SqueezeNet, squeezenet1_0)
MODELZOO_DEFINE_FACTORY(models::SqueezeNet, squeezenet1_1)

}  // namespace modelzoo
