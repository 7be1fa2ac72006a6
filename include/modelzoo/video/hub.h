#pragma once
/// \file
/// Video classification by name, through the same registry, cache and
/// Weights as get_model(): `modelzoo::r3d_18(true)` builds R3D-18 with its
/// KINETICS400_V1 weights (400 classes) in eval mode. Registry entries of
/// these models have `"task": "video"`; their meta.preset is the
/// VideoClassification preset (transforms/presets.h), and
/// transforms::topk(logits, categories, k) turns the logits into labels.

#include <string>
#include <vector>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"
#include "modelzoo/video/models.h"

namespace modelzoo {

using video::VideoClassifier;

/// Builds the video classifier `name` (a registry name or one of
/// video::video_architectures()) with `weights`.
VideoClassifier get_video_classifier(const std::string& name, const Weights& weights = Weights::none(),
                                     const HubOptions& options = default_hub_options());

/// Names of the video architectures, sorted.
std::vector<std::string> list_video_classifiers();

/// R3D-18.
VideoClassifier r3d_18(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MC3-18.
VideoClassifier mc3_18(bool pretrained = false, const HubOptions& options = default_hub_options());
/// R(2+1)D-18.
VideoClassifier r2plus1d_18(bool pretrained = false, const HubOptions& options = default_hub_options());
/// S3D.
VideoClassifier s3d(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MViT v1-B.
VideoClassifier mvit_v1_b(bool pretrained = false, const HubOptions& options = default_hub_options());
/// MViT v2-S.
VideoClassifier mvit_v2_s(bool pretrained = false, const HubOptions& options = default_hub_options());
/// R3D-18 with the given weights.
VideoClassifier r3d_18(const Weights& weights, const HubOptions& options = default_hub_options());
/// MC3-18 with the given weights.
VideoClassifier mc3_18(const Weights& weights, const HubOptions& options = default_hub_options());
/// R(2+1)D-18 with the given weights.
VideoClassifier r2plus1d_18(const Weights& weights, const HubOptions& options = default_hub_options());
/// S3D with the given weights.
VideoClassifier s3d(const Weights& weights, const HubOptions& options = default_hub_options());
/// MViT v1-B with the given weights.
VideoClassifier mvit_v1_b(const Weights& weights, const HubOptions& options = default_hub_options());
/// MViT v2-S with the given weights.
VideoClassifier mvit_v2_s(const Weights& weights, const HubOptions& options = default_hub_options());

}  // namespace modelzoo
