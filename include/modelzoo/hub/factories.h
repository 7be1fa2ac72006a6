#pragma once
/// \file
/// Every named factory (`modelzoo::vgg19(true)`, ...), one header per family.

#include "modelzoo/hub/vgg.h"
