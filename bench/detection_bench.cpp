// One fasterrcnn_resnet50_fpn (or any detection architecture) forward on an
// 800 x 1333 input, timed in C++; bench/python_detection.py does the same in
// Python torchvision with the same weights file, so the two run side by side:
//
//   python_detection.py --save W.pth            # random weights, torchvision's layout
//   detection_bench W.pth [ARCH] [REPEAT]       # median wall time of REPEAT forwards
//   python_detection.py --load W.pth [REPEAT]
//
// Prints one JSON line: {"arch", "height", "width", "repeat", "median_ms", "min_ms", "detections"}.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "modelzoo/detection/detector.h"
#include "modelzoo/io/io.h"
#include "modelzoo/state_dict/state_dict.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: detection_bench WEIGHTS.pth [ARCH] [REPEAT]\n";
    return 2;
  }
  const std::string arch = argc > 2 ? argv[2] : "fasterrcnn_resnet50_fpn";
  const int repeat = argc > 3 ? std::stoi(argv[3]) : 3;
  modelzoo::detection::DetectorArgs args;
  args.init_weights = false;
  const auto* info = modelzoo::detection::find_detector(arch);
  if (info == nullptr) {
    std::cerr << "unknown detection architecture " << arch << "\n";
    return 2;
  }
  args.num_classes = info->default_num_classes;
  modelzoo::detection::Detector model = info->build(args);
  modelzoo::state_dict::load_state_dict(*model, modelzoo::io::read_state_dict(argv[1]));
  at::manual_seed(0);
  // 800 x 1333 after the transform: a 3 x 800 x 1333 image stays that size.
  const std::vector<at::Tensor> images = {at::rand({3, 800, 1333})};
  model->forward(images);  // warm-up
  std::vector<double> ms;
  int64_t detections = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = model->forward(images);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    detections = out[0].boxes.size(0);
  }
  std::sort(ms.begin(), ms.end());
  std::cout << nlohmann::json{{"impl", "modelzoo"}, {"arch", arch}, {"height", 800}, {"width", 1333},
                              {"repeat", repeat}, {"median_ms", ms[ms.size() / 2]}, {"min_ms", ms.front()},
                              {"detections", detections}, {"threads", at::get_num_threads()}}
                   .dump()
            << "\n";
  return 0;
}
