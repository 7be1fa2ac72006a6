#pragma once
/// \file
/// Umbrella header: everything a program using modelzoo needs.
///
///     #include <modelzoo/modelzoo.h>
///     auto model = modelzoo::vgg19(/*pretrained=*/true);
///     auto logits = model->forward(torch::randn({1, 3, 224, 224}));

#include "modelzoo/error.h"
#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/hub/detection.h"
#include "modelzoo/hub/factories.h"
#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights_info.h"
#include "modelzoo/inference/inference.h"
#include "modelzoo/io/io.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/optical_flow/flow_image.h"
#include "modelzoo/optical_flow/hub.h"
#include "modelzoo/registry/registry.h"
#include "modelzoo/segmentation/hub.h"
#include "modelzoo/segmentation/output.h"
#include "modelzoo/state_dict/state_dict.h"
#include "modelzoo/transforms/draw.h"
#include "modelzoo/transforms/encode.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/labels.h"
#include "modelzoo/transforms/presets.h"
#include "modelzoo/transforms/preprocess.h"
#include "modelzoo/video/hub.h"
