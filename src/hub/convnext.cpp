#include "modelzoo/hub/convnext.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::ConvNeXt, convnext_tiny)
MODELZOO_DEFINE_FACTORY(models::ConvNeXt, convnext_small)
MODELZOO_DEFINE_FACTORY(models::ConvNeXt, convnext_base)
MODELZOO_DEFINE_FACTORY(models::ConvNeXt, convnext_large)

}  // namespace modelzoo
