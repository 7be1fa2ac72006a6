#include "modelzoo/hub/maxvit.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::MaxVit, maxvit_t)

}  // namespace modelzoo
