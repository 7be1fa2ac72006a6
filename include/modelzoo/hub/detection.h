#pragma once
/// \file
/// Detection models through the hub: `modelzoo::fasterrcnn_resnet50_fpn(true)`
/// builds Faster R-CNN, finds its COCO weights in the cache (downloading and
/// verifying them on first use) and loads them, as `vgg19(true)` does for a
/// classifier. get_detector() does the same by name.
///
/// \code
///   auto model = modelzoo::get_detector("fasterrcnn_resnet50_fpn", modelzoo::Weights::default_weights());
///   auto info = modelzoo::detection_weights_info("fasterrcnn_resnet50_fpn", modelzoo::Weights::default_weights());
///   std::vector<modelzoo::Detection> out = model->forward({image});   // 3 x H x W float in [0, 1]
///   // out[0].boxes (N x 4), out[0].labels -> info.categories[label], out[0].scores
/// \endcode
///
/// Detectors are built in eval mode and refuse training mode (no losses).

#include <string>
#include <vector>

#include "modelzoo/detection/detector.h"
#include "modelzoo/hub/hub.h"

namespace modelzoo {

using detection::Detection;
using detection::Detector;

/// Builds detection architecture `name` (or a registry model whose arch is
/// one) with `weights`: none (random initialisation), the default, a tag
/// ("COCO_V1"), a URL or a local file. The number of classes (and keypoints)
/// follows the weights' categories (keypoint_names); the registry entry's
/// arch_options (e.g. frozen_bn_eps) and HubOptions::arch_options become
/// builder arguments. modelzoo::Error naming get_model() for a classifier
/// name, and listing the detection architectures for an unknown one.
Detector get_detector(const std::string& name, const Weights& weights = Weights::none(),
                      const HubOptions& options = default_hub_options());

/// What the outputs of a detector mean.
struct DetectionWeightsInfo {
  std::vector<std::string> categories;      ///< label index -> name ("N/A" for unused COCO ids)
  std::vector<std::string> keypoint_names;  ///< Keypoint R-CNN only
};

/// Categories and keypoint names of a detection model's weights (the
/// registry's default entry when `weights` is a URL, a file or none).
DetectionWeightsInfo detection_weights_info(const std::string& name, const Weights& weights,
                                            const HubOptions& options = default_hub_options());

/// Names of the detection architectures (sorted).
std::vector<std::string> list_detectors();

/// Declares `Detector name(bool pretrained, options)` and `Detector name(const Weights&, options)`.
#define MODELZOO_DECLARE_DETECTOR(name)                                                              \
  /** torchvision's name builder; pretrained = the registry's default weights. */                     \
  Detector name(bool pretrained = false, const HubOptions& options = default_hub_options());          \
  /** torchvision's name builder with the given weights. */                                            \
  Detector name(const Weights& weights, const HubOptions& options = default_hub_options());

MODELZOO_DECLARE_DETECTOR(fasterrcnn_resnet50_fpn)
MODELZOO_DECLARE_DETECTOR(fasterrcnn_resnet50_fpn_v2)
MODELZOO_DECLARE_DETECTOR(fasterrcnn_mobilenet_v3_large_fpn)
MODELZOO_DECLARE_DETECTOR(fasterrcnn_mobilenet_v3_large_320_fpn)
MODELZOO_DECLARE_DETECTOR(maskrcnn_resnet50_fpn)
MODELZOO_DECLARE_DETECTOR(maskrcnn_resnet50_fpn_v2)
MODELZOO_DECLARE_DETECTOR(keypointrcnn_resnet50_fpn)
MODELZOO_DECLARE_DETECTOR(retinanet_resnet50_fpn)
MODELZOO_DECLARE_DETECTOR(retinanet_resnet50_fpn_v2)
MODELZOO_DECLARE_DETECTOR(fcos_resnet50_fpn)
MODELZOO_DECLARE_DETECTOR(ssd300_vgg16)
MODELZOO_DECLARE_DETECTOR(ssdlite320_mobilenet_v3_large)

#undef MODELZOO_DECLARE_DETECTOR

}  // namespace modelzoo
