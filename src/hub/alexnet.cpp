#include "modelzoo/hub/alexnet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::AlexNet, alexnet)

}  // namespace modelzoo
