#include "modelzoo/hub/mnasnet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::MNASNet, mnasnet0_5)
MODELZOO_DEFINE_FACTORY(models::MNASNet, mnasnet0_75)
MODELZOO_DEFINE_FACTORY(models::MNASNet, mnasnet1_0)
MODELZOO_DEFINE_FACTORY(models::MNASNet, mnasnet1_3)

}  // namespace modelzoo
