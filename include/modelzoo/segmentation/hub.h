#pragma once
/// \file
/// Semantic segmentation by name, through the same registry, cache and
/// Weights as get_model(): `modelzoo::deeplabv3_resnet50(true)` builds
/// DeepLabV3-ResNet50 with its COCO_WITH_VOC_LABELS_V1 weights (21 VOC
/// classes, with the auxiliary head those files carry) in eval mode.
/// Registry entries of these models have `"task": "segmentation"`.

#include <string>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"
#include "modelzoo/segmentation/models.h"

namespace modelzoo {

using segmentation::SegmentationOutput;
using segmentation::Segmenter;

/// Builds the segmentation model `name` (a registry name or one of
/// segmentation::segmentation_architectures()) with `weights`. Pretrained
/// builds get aux_loss = true, as torchvision's builders force it;
/// HubOptions::arch_options {"aux_loss": false} drops the auxiliary head
/// (and its weights) instead.
Segmenter get_segmenter(const std::string& name, const Weights& weights = Weights::none(),
                        const HubOptions& options = default_hub_options());

/// Names of the segmentation architectures, sorted.
std::vector<std::string> list_segmenters();

/// FCN-ResNet50.
Segmenter fcn_resnet50(bool pretrained = false, const HubOptions& options = default_hub_options());
/// FCN-ResNet101.
Segmenter fcn_resnet101(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DeepLabV3-ResNet50.
Segmenter deeplabv3_resnet50(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DeepLabV3-ResNet101.
Segmenter deeplabv3_resnet101(bool pretrained = false, const HubOptions& options = default_hub_options());
/// DeepLabV3-MobileNetV3-Large.
Segmenter deeplabv3_mobilenet_v3_large(bool pretrained = false,
                                       const HubOptions& options = default_hub_options());
/// LR-ASPP-MobileNetV3-Large.
Segmenter lraspp_mobilenet_v3_large(bool pretrained = false,
                                    const HubOptions& options = default_hub_options());

/// FCN-ResNet50 with the given weights.
Segmenter fcn_resnet50(const Weights& weights, const HubOptions& options = default_hub_options());
/// FCN-ResNet101 with the given weights.
Segmenter fcn_resnet101(const Weights& weights, const HubOptions& options = default_hub_options());
/// DeepLabV3-ResNet50 with the given weights.
Segmenter deeplabv3_resnet50(const Weights& weights, const HubOptions& options = default_hub_options());
/// DeepLabV3-ResNet101 with the given weights.
Segmenter deeplabv3_resnet101(const Weights& weights, const HubOptions& options = default_hub_options());
/// DeepLabV3-MobileNetV3-Large with the given weights.
Segmenter deeplabv3_mobilenet_v3_large(const Weights& weights,
                                       const HubOptions& options = default_hub_options());
/// LR-ASPP-MobileNetV3-Large with the given weights.
Segmenter lraspp_mobilenet_v3_large(const Weights& weights,
                                    const HubOptions& options = default_hub_options());

}  // namespace modelzoo
