#pragma once
/// \file
/// What every detector returns and the table of detection architectures.
/// A detector takes a list of images of any sizes (3 x H x W float in
/// [0, 1], as torchvision's detection models) and returns, per image, the
/// detections in input pixels. Detectors run in eval mode only: forward()
/// refuses a module switched to training mode (there are no losses here).

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/ops/roi_align.h"

namespace modelzoo::detection {

/// The detections of one image (torchvision's result dict).
struct Detection {
  at::Tensor boxes;            ///< N x 4 float, (x1, y1, x2, y2) in input pixels
  at::Tensor labels;           ///< N int64 category indices (into the weights' categories)
  at::Tensor scores;           ///< N float, decreasing
  at::Tensor masks;            ///< N x 1 x H x W float probabilities (Mask R-CNN), else undefined
  at::Tensor keypoints;        ///< N x K x 3 (x, y, visibility 1) (Keypoint R-CNN), else undefined
  at::Tensor keypoint_scores;  ///< N x K (Keypoint R-CNN), else undefined
};

/// Intermediate results of one forward pass, for checking where two
/// implementations start to differ.
struct DetectionTrace {
  at::Tensor batch;                                    ///< the normalised, resized, padded batch
  std::vector<std::pair<int64_t, int64_t>> image_sizes;  ///< (h, w) of each image after resizing
  ops::FeatureMaps features;                           ///< backbone (+ FPN) outputs
  std::vector<at::Tensor> proposals;                   ///< RPN proposals per image (R-CNNs only)
  std::vector<at::Tensor> proposal_scores;             ///< their objectness probabilities
};

/// Base of every detector.
class DetectorImpl : public torch::nn::Module {
 public:
  /// `name` is the Python class name (FasterRCNN, RetinaNet, ...).
  explicit DetectorImpl(std::string name) : torch::nn::Module(std::move(name)) {}
  /// Detections per image; `trace`, when set, receives intermediate outputs.
  /// modelzoo::Error for a module in training mode, an empty list, or an
  /// image that is not a 3 x H x W floating tensor (naming its index and shape).
  virtual std::vector<Detection> detect(const std::vector<at::Tensor>& images, DetectionTrace* trace) = 0;
  /// detect(images, nullptr).
  std::vector<Detection> forward(const std::vector<at::Tensor>& images) { return detect(images, nullptr); }
  /// Minimum confidence of the returned detections (torchvision's
  /// box_score_thresh / score_thresh); may be changed after building.
  virtual void set_score_thresh(double thresh) = 0;

 protected:
  /// Throws the errors detect() documents.
  void check_inputs(const std::vector<at::Tensor>& images) const;
};

/// A shared handle to any detector.
class Detector : public torch::nn::ModuleHolder<DetectorImpl> {
 public:
  /// Wraps an existing module.
  Detector(std::shared_ptr<DetectorImpl> impl)  // NOLINT(google-explicit-constructor)
      : ModuleHolder(std::move(impl)) {}
  /// An empty handle.
  Detector(std::nullptr_t) : ModuleHolder(nullptr) {}  // NOLINT
};

/// Arguments every detection builder understands. `extra` holds the
/// builder's keyword arguments by torchvision's names (box_score_thresh,
/// min_size, max_size, rpn_pre_nms_top_n_test, num_keypoints, frozen_bn_eps,
/// ...); a key the builder does not know is refused with modelzoo::Error.
struct DetectorArgs {
  /// Categories including background (torchvision: 91 for COCO, 2 for Keypoint R-CNN).
  int64_t num_classes = 91;
  /// false: parameters stay uninitialised until weights are loaded.
  bool init_weights = true;
  nlohmann::json extra = nlohmann::json::object();
};

/// One detection architecture.
struct DetectorInfo {
  std::string name;    ///< torchvision's builder name
  std::string family;  ///< "faster_rcnn", "mask_rcnn", "keypoint_rcnn", "retinanet", "fcos", "ssd", "ssdlite"
  int64_t default_num_classes = 91;  ///< when neither weights nor caller say
  std::function<Detector(const DetectorArgs&)> build;
  /// Renames of keys saved by older torchvision versions ({regex, replacement}).
  std::vector<std::pair<std::string, std::string>> key_renames = {};
};

/// Every detection architecture, sorted by name.
const std::vector<DetectorInfo>& detectors();
/// The architecture or nullptr.
const DetectorInfo* find_detector(const std::string& name);
/// Builds `name` in eval mode; modelzoo::Error listing the known names when unknown.
Detector build_detector(const std::string& name, const DetectorArgs& args);
/// Names of every detection architecture, sorted.
std::vector<std::string> list_detectors();

}  // namespace modelzoo::detection
