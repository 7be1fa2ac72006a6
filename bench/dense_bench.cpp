// dense_bench MODEL [REPEATS] [plain|optimized|both]: forward time of a
// segmentation, video or optical-flow model in eval mode (weights drawn at
// random: the time does not depend on their values), as built ("plain") and
// after optimize_for_inference ("optimized", the hub's default for
// pretrained models); the C++ side of bench/python_dense.py.
//   deeplabv3_resnet50 (and the other segmenters): one 1 x 3 x 520 x 520 image
//   r3d_18 (and the other video models): one 1 x 3 x 16 x 112 x 112 clip
//   raft_small / raft_large: two 1 x 3 x 480 x 640 frames, 12 flow updates
// One warm-up run, then REPEATS (default 3) timed runs; prints one JSON line
// per mode with the median and the fastest wall time, the median process CPU
// time (the fairer figure on a busy machine) in milliseconds, and the thread
// count.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include <modelzoo/modelzoo.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: dense_bench MODEL [REPEATS]\n";
    return 2;
  }
  const std::string name = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const std::string mode = argc > 3 ? argv[3] : "both";
  if (mode != "plain" && mode != "optimized" && mode != "both") {
    std::cerr << "dense_bench: mode must be plain, optimized or both, got " << mode << "\n";
    return 2;
  }
  try {
    at::manual_seed(0);
    std::function<void()> run;
    std::shared_ptr<torch::nn::Module> module;
    c10::NoGradGuard no_grad;
    if (modelzoo::optical_flow::find_flow_architecture(name) != nullptr) {
      auto model = modelzoo::get_flow_model(name);
      model->eval();
      const at::Tensor a = at::rand({1, 3, 480, 640}) * 2 - 1, b = at::rand({1, 3, 480, 640}) * 2 - 1;
      auto impl = model.ptr();  // shared ownership: the lambda outlives this block
      module = impl;
      run = [=] { impl->forward(a, b, 12); };
    } else if (modelzoo::video::find_video_architecture(name) != nullptr) {
      auto model = modelzoo::get_video_classifier(name);
      model->eval();
      const at::Tensor x = at::randn({1, 3, 16, 112, 112});
      auto impl = model.ptr();
      module = impl;
      run = [=] { impl->forward(x); };
    } else {
      auto model = modelzoo::get_segmenter(name);
      model->eval();
      const at::Tensor x = at::randn({1, 3, 520, 520});
      auto impl = model.ptr();
      module = impl;
      run = [=] { impl->forward(x); };
    }
    auto measure = [&](const std::string& side, double optimize_ms) {
      std::vector<double> times, cpu;
      run();  // warm-up
      for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        run();
        cpu.push_back(1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      std::sort(cpu.begin(), cpu.end());
      nlohmann::json j{{"model", name},
                       {"side", side},
                       {"threads", at::get_num_threads()},
                       {"median_ms", times[times.size() / 2]},
                       {"min_ms", times.front()},
                       {"median_cpu_ms", cpu[cpu.size() / 2]}};
      if (optimize_ms >= 0) j["optimize_ms"] = optimize_ms;
      std::cout << j.dump() << "\n" << std::flush;
    };
    if (mode != "optimized") measure("modelzoo plain", -1);
    if (mode != "plain") measure("modelzoo optimized", modelzoo::optimize_for_inference(*module).ms);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dense_bench: " << e.what() << "\n";
    return 1;
  }
}
