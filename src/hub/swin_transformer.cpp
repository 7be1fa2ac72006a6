#include "modelzoo/hub/swin_transformer.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_t)
MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_s)
MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_b)
MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_v2_t)
MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_v2_s)
MODELZOO_DEFINE_FACTORY(models::SwinTransformer, swin_v2_b)

}  // namespace modelzoo
