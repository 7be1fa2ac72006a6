#include "modelzoo/hub/googlenet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::GoogLeNet, googlenet)

}  // namespace modelzoo
