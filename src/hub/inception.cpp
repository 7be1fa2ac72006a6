#include "modelzoo/hub/inception.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::Inception3, inception_v3)

}  // namespace modelzoo
