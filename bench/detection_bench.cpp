// One fasterrcnn_resnet50_fpn (or any detection architecture) forward on an
// 800 x 1333 input, timed in C++ as built ("plain") and after
// optimize_for_inference ("optimized", the hub's default for pretrained
// models); bench/python_detection.py does the same in Python torchvision with
// the same weights file, so they run side by side (scripts/bench_tasks.sh):
//
//   python_detection.py --save W.pth [--arch ARCH]       # random weights, torchvision's layout
//   detection_bench W.pth [ARCH] [REPEAT] [plain|optimized|both]
//   python_detection.py --load W.pth [--arch ARCH] [--repeat N]
//
// Prints one JSON line per mode: {"impl", "arch", "height", "width", "repeat",
// "median_ms", "min_ms", "median_cpu_ms", "detections", "threads"}.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "modelzoo/detection/detector.h"
#include "modelzoo/inference/inference.h"
#include "modelzoo/io/io.h"
#include "modelzoo/state_dict/state_dict.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: detection_bench WEIGHTS.pth [ARCH] [REPEAT] [plain|optimized|both]\n";
    return 2;
  }
  const std::string arch = argc > 2 ? argv[2] : "fasterrcnn_resnet50_fpn";
  const int repeat = argc > 3 ? std::max(1, std::stoi(argv[3])) : 3;
  const std::string mode = argc > 4 ? argv[4] : "both";
  if (mode != "plain" && mode != "optimized" && mode != "both") {
    std::cerr << "detection_bench: mode must be plain, optimized or both, got " << mode << "\n";
    return 2;
  }
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
  auto measure = [&](const std::string& impl, double optimize_ms) {
    model->forward(images);  // warm-up
    std::vector<double> ms, cpu;
    int64_t detections = 0;
    for (int i = 0; i < repeat; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      const auto out = model->forward(images);
      cpu.push_back(1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      detections = out[0].boxes.size(0);
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    nlohmann::json j{{"impl", impl},         {"arch", arch},          {"height", 800},
                     {"width", 1333},        {"repeat", repeat},      {"median_ms", ms[ms.size() / 2]},
                     {"min_ms", ms.front()}, {"median_cpu_ms", cpu[cpu.size() / 2]},
                     {"detections", detections}, {"threads", at::get_num_threads()}};
    if (optimize_ms >= 0) j["optimize_ms"] = optimize_ms;
    std::cout << j.dump() << "\n" << std::flush;
  };
  if (mode != "optimized") measure("modelzoo plain", -1);
  if (mode != "plain") {
    const modelzoo::InferenceReport r = modelzoo::optimize_for_inference(*model);
    measure("modelzoo optimized", r.ms);
  }
  return 0;
}
