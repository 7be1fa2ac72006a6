#include <algorithm>

#include "modelzoo/detection/detector.h"
#include "modelzoo/detection/one_stage.h"
#include "modelzoo/detection/rcnn.h"
#include "modelzoo/detection/ssd.h"
#include "modelzoo/error.h"
#include "modelzoo/ops/layers.h"

namespace modelzoo::detection {
namespace {

using Renames = std::vector<std::pair<std::string, std::string>>;

// Weight files saved before torchvision 0.13 name the FPN, RPN head and mask
// head convolutions without their Conv2dNormActivation index.
Renames legacy_rcnn_renames(bool mask) {
  Renames r = ops::fpn_legacy_key_renames();
  r.emplace_back(R"(rpn\.head\.conv\.(weight|bias))", "rpn.head.conv.0.0.$1");
  if (mask) {
    for (int i = 1; i <= 4; ++i) {
      r.emplace_back("roi_heads\\.mask_head\\.mask_fcn" + std::to_string(i) + "\\.(weight|bias)",
                     "roi_heads.mask_head." + std::to_string(i - 1) + ".0.$1");
    }
  }
  return r;
}

std::vector<DetectorInfo> make_table() {
  std::vector<DetectorInfo> t = {
      {"fasterrcnn_resnet50_fpn", "faster_rcnn", 91, fasterrcnn_resnet50_fpn, legacy_rcnn_renames(false)},
      {"fasterrcnn_resnet50_fpn_v2", "faster_rcnn", 91, fasterrcnn_resnet50_fpn_v2},
      {"fasterrcnn_mobilenet_v3_large_fpn", "faster_rcnn", 91, fasterrcnn_mobilenet_v3_large_fpn,
       legacy_rcnn_renames(false)},
      {"fasterrcnn_mobilenet_v3_large_320_fpn", "faster_rcnn", 91, fasterrcnn_mobilenet_v3_large_320_fpn,
       legacy_rcnn_renames(false)},
      {"maskrcnn_resnet50_fpn", "mask_rcnn", 91, maskrcnn_resnet50_fpn, legacy_rcnn_renames(true)},
      {"maskrcnn_resnet50_fpn_v2", "mask_rcnn", 91, maskrcnn_resnet50_fpn_v2},
      {"keypointrcnn_resnet50_fpn", "keypoint_rcnn", 2, keypointrcnn_resnet50_fpn, legacy_rcnn_renames(false)},
      {"retinanet_resnet50_fpn", "retinanet", 91, retinanet_resnet50_fpn, retinanet_legacy_key_renames()},
      {"retinanet_resnet50_fpn_v2", "retinanet", 91, retinanet_resnet50_fpn_v2},
      {"fcos_resnet50_fpn", "fcos", 91, fcos_resnet50_fpn},
      {"ssd300_vgg16", "ssd", 91, ssd300_vgg16},
      {"ssdlite320_mobilenet_v3_large", "ssdlite", 91, ssdlite320_mobilenet_v3_large},
  };
  std::sort(t.begin(), t.end(), [](const DetectorInfo& a, const DetectorInfo& b) { return a.name < b.name; });
  return t;
}

}  // namespace

const std::vector<DetectorInfo>& detectors() {
  static const std::vector<DetectorInfo> table = make_table();
  return table;
}

const DetectorInfo* find_detector(const std::string& name) {
  for (const auto& d : detectors()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

Detector build_detector(const std::string& name, const DetectorArgs& args) {
  const DetectorInfo* info = find_detector(name);
  if (info == nullptr) {
    std::string known;
    for (const auto& d : detectors()) known += (known.empty() ? "" : ", ") + d.name;
    throw Error("unknown detection architecture '" + name + "' (known: " + known + ")");
  }
  return info->build(args);
}

std::vector<std::string> list_detectors() {
  std::vector<std::string> out;
  for (const auto& d : detectors()) out.push_back(d.name);
  return out;
}

}  // namespace modelzoo::detection
