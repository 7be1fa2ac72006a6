#include "modelzoo/hub/regnet.h"

#include "hub/typed.h"

namespace modelzoo {

MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_400mf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_800mf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_1_6gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_3_2gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_8gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_16gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_x_32gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_400mf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_800mf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_1_6gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_3_2gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_8gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_16gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_32gf)
MODELZOO_DEFINE_FACTORY(models::RegNet, regnet_y_128gf)

}  // namespace modelzoo
