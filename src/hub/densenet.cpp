#include "modelzoo/hub/densenet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::DenseNet, densenet121)
MODELZOO_DEFINE_FACTORY(models::DenseNet, densenet161)
MODELZOO_DEFINE_FACTORY(models::DenseNet, densenet169)
MODELZOO_DEFINE_FACTORY(models::DenseNet, densenet201)

}  // namespace modelzoo
