#pragma once
/// \file
/// Every named factory (`modelzoo::vgg19(true)`, ...), one header per family.

#include "modelzoo/hub/alexnet.h"
#include "modelzoo/hub/convnext.h"
#include "modelzoo/hub/densenet.h"
#include "modelzoo/hub/efficientnet.h"
#include "modelzoo/hub/googlenet.h"
#include "modelzoo/hub/inception.h"
#include "modelzoo/hub/maxvit.h"
#include "modelzoo/hub/mnasnet.h"
#include "modelzoo/hub/mobilenetv2.h"
#include "modelzoo/hub/mobilenetv3.h"
#include "modelzoo/hub/regnet.h"
#include "modelzoo/hub/resnet.h"
#include "modelzoo/hub/shufflenetv2.h"
#include "modelzoo/hub/squeezenet.h"
#include "modelzoo/hub/swin_transformer.h"
#include "modelzoo/hub/vgg.h"
#include "modelzoo/hub/vision_transformer.h"
