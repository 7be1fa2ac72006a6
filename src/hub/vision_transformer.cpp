#include "modelzoo/hub/vision_transformer.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::VisionTransformer, vit_b_16)
MODELZOO_DEFINE_FACTORY(models::VisionTransformer, vit_b_32)
MODELZOO_DEFINE_FACTORY(models::VisionTransformer, vit_l_16)
MODELZOO_DEFINE_FACTORY(models::VisionTransformer, vit_l_32)
MODELZOO_DEFINE_FACTORY(models::VisionTransformer, vit_h_14)

}  // namespace modelzoo
