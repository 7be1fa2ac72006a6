// inference_bench: forward-pass speed of one architecture in this process.
//
//   inference_bench MODEL BATCH RUNS plain|optimized   modelzoo, random weights
//   inference_bench MODEL BATCH RUNS torchscript FILE  torch::jit::load(FILE)
//   inference_bench --peak RUNS                        a 3x3 convolution 256->256 on
//                                                      56x56 through oneDNN (reordered
//                                                      weights): this CPU's practical ceiling
//
// optimized: the random weights written to a file and loaded back with
// get_model(Weights::file), as a pretrained model is (mapped, optimised on
// load). Input: BATCH x 3 x 224 x 224 (MODEL's own size for vit_*/swin_v2_*/maxvit_*
// as built by default), random, fixed seed. Two warm-up forwards, then RUNS
// timed ones under c10::InferenceMode (RUNS = 0: the first forward alone, no
// warm-up); prints one JSON line with the median.
// scripts/bench_inference.sh runs it next to Python torchvision.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <modelzoo/modelzoo.h>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// RUNS == 0: the first call alone (what a fresh process pays).
template <typename F>
double median_ms(int runs, F&& f) {
  if (runs <= 0) {
    const auto t0 = Clock::now();
    f();
    return ms_since(t0);
  }
  // Warm-up, two calls: oneDNN primitive creation and first-touch
  // allocations on the first, the deferred reorder of large Linear weights
  // (optimized path) on the second.
  f();
  f();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(ms_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int64_t input_size(const std::string& model) {
  if (model == "swin_v2_t" || model == "swin_v2_s" || model == "swin_v2_b") return 256;
  return 224;
}

int peak(int runs) {
  // ATen sets OpenMP's thread count on its first parallel region; oneDNN,
  // called first, would otherwise run on every core.
  at::init_num_threads();
  c10::InferenceMode guard;
  at::manual_seed(0);
  const at::Tensor x = at::randn({1, 256, 56, 56}).to_mkldnn();
  const at::Tensor w = at::mkldnn_reorder_conv2d_weight(at::randn({256, 256, 3, 3}).to_mkldnn(), {1, 1}, {1, 1}, {1, 1}, 1);
  const double ms = median_ms(runs, [&] { at::mkldnn_convolution(x, w, {}, {1, 1}, {1, 1}, {1, 1}, 1); });
  const double flop = 2.0 * 256 * 256 * 9 * 56 * 56;
  std::cout << nlohmann::json{{"peak_conv_ms", ms}, {"gflops", flop / ms / 1e6},
                              {"threads", at::get_num_threads()}}.dump()
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--peak") return peak(std::stoi(argv[2]));
    if (argc < 5) {
      std::cerr << "usage: inference_bench MODEL BATCH RUNS plain|optimized|torchscript [FILE]\n"
                   "       inference_bench --peak RUNS\n";
      return 2;
    }
    const std::string model_name = argv[1], mode = argv[4];
    const int64_t batch = std::stoll(argv[2]);
    const int runs = std::stoi(argv[3]);
    at::manual_seed(0);
    const int64_t size = input_size(model_name);
    const at::Tensor x = at::randn({batch, 3, size, size});
    nlohmann::json out = {{"model", model_name}, {"mode", mode}, {"batch", batch},
                          {"threads", at::get_num_threads()}};
    double ms = 0;
    if (mode == "torchscript") {
      if (argc < 6) throw std::runtime_error("torchscript needs FILE");
      torch::jit::Module m = torch::jit::load(argv[5]);
      m.eval();
      c10::InferenceMode guard;
      ms = median_ms(runs, [&] { m.forward({x}); });
    } else if (mode == "plain" || mode == "optimized") {
      modelzoo::Classifier model = modelzoo::get_model(model_name);  // random initialisation
      model->eval();
      if (mode == "optimized") {
        // As a pretrained model gets it: the weights mapped from a file
        // (written here once, 64-byte aligned zip), optimised on load.
        const std::filesystem::path file =
            std::filesystem::temp_directory_path() / ("inference_bench." + model_name + ".pth");
        modelzoo::io::write_state_dict(file, modelzoo::state_dict::state_dict(*model));
        modelzoo::LoadTrace trace;
        modelzoo::HubOptions options = modelzoo::default_hub_options();
        options.trace = &trace;
        options.optimize = true;
        model = modelzoo::get_model(model_name, modelzoo::Weights::file(file), options);
        std::filesystem::remove(file);  // the mapping stays valid
        out["optimize_ms"] = trace.optimize_ms;
        out["reorder_ms"] = trace.reorder_ms.get();  // steady state: every weight reordered
        out["optimized"] = trace.optimized;
      }
      c10::InferenceMode guard;
      ms = median_ms(runs, [&] { model->forward(x); });
    } else {
      std::cerr << "inference_bench: unknown mode '" << mode << "'\n";
      return 2;
    }
    out["ms_per_batch"] = ms;
    out["ms_per_image"] = ms / static_cast<double>(batch);
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "inference_bench: " << e.what() << "\n";
    return 1;
  }
}
