// dense_bench MODEL [REPEATS]: forward time of a segmentation or optical-flow
// model in eval mode (weights drawn at random: the time does not depend on
// their values), the C++ side of bench/python_dense.py.
//   deeplabv3_resnet50 (and the other segmenters): one 1 x 3 x 520 x 520 image
//   raft_small / raft_large: two 1 x 3 x 480 x 640 frames, 12 flow updates
// One warm-up run, then REPEATS (default 3) timed runs; prints one JSON line
// with the median and the fastest wall time, the median process CPU time (the
// fairer figure on a busy machine) in milliseconds, and the thread count.

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
  try {
    at::manual_seed(0);
    std::function<double()> run;
    c10::NoGradGuard no_grad;
    std::vector<double> times, cpu;
    auto time_ms = [&cpu](const std::function<void()>& f) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      f();
      cpu.push_back(1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    if (modelzoo::optical_flow::find_flow_architecture(name) != nullptr) {
      auto model = modelzoo::get_flow_model(name);
      model->eval();
      const at::Tensor a = at::rand({1, 3, 480, 640}) * 2 - 1, b = at::rand({1, 3, 480, 640}) * 2 - 1;
      auto impl = model.ptr();  // shared ownership: the lambda outlives this block
      run = [=] { return time_ms([=] { impl->forward(a, b, 12); }); };
    } else {
      auto model = modelzoo::get_segmenter(name);
      model->eval();
      const at::Tensor x = at::randn({1, 3, 520, 520});
      auto impl = model.ptr();  // shared ownership: the lambda outlives this block
      run = [=] { return time_ms([=] { impl->forward(x); }); };
    }
    run();  // warm-up
    cpu.clear();
    for (int i = 0; i < repeats; ++i) times.push_back(run());
    std::sort(times.begin(), times.end());
    std::sort(cpu.begin(), cpu.end());
    std::cout << nlohmann::json{{"model", name},
                                {"side", "modelzoo"},
                                {"threads", at::get_num_threads()},
                                {"median_ms", times[times.size() / 2]},
                                {"min_ms", times.front()},
                                {"median_cpu_ms", cpu[cpu.size() / 2]}}
                     .dump()
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dense_bench: " << e.what() << "\n";
    return 1;
  }
}
