// load_bench MODEL [WEIGHTS]: one pretrained load in this process, as a
// program would do it (environment read once), then one forward pass of a
// 1x3x224x224 batch. Prints one JSON line with the stage timings; wall time
// and peak memory of the whole process are measured from outside
// (scripts/bench.sh runs it under /usr/bin/time next to Python); the JSON
// also carries the process's peak and current resident memory (VmHWM,
// VmRSS) and its minor page faults after the load and after the forward, to
// tell where a peak, or system time, comes from.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <modelzoo/modelzoo.h>

// A "Vm...:  N kB" line of /proc/self/status, in MiB (-1 when absent).
double status_mib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  }
  return -1;
}

// Minor page faults of the process so far.
long minor_faults() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: load_bench MODEL [WEIGHTS]\n";
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    modelzoo::LoadTrace trace;
    modelzoo::HubOptions options = modelzoo::HubOptions::from_env();
    options.trace = &trace;
    const auto weights = modelzoo::Weights::parse(argc > 2 ? argv[2] : "DEFAULT");
    auto model = modelzoo::get_model(argv[1], weights, options);
    const auto t1 = std::chrono::steady_clock::now();
    const double hwm_load = status_mib("VmHWM"), rss_load = status_mib("VmRSS");
    const long faults_load = minor_faults();
    at::Tensor logits;
    {
      c10::NoGradGuard no_grad;
      logits = model->forward(at::ones({1, 3, 224, 224}));
    }
    const auto t2 = std::chrono::steady_clock::now();
    // After the forward: the reorders the background thread was still doing.
    const double reorder_ms = trace.reorder_ms.valid() ? trace.reorder_ms.get() : 0.0;
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    nlohmann::json out = {{"model", argv[1]},          {"file", trace.file.string()},
                          {"downloaded", trace.downloaded}, {"load_ms", ms(t0, t1)},
                          {"forward_ms", ms(t1, t2)},   {"fetch_ms", trace.fetch_ms},
                          {"read_ms", trace.read_ms},   {"build_ms", trace.build_ms},
                          {"state_load_ms", trace.load_ms}, {"optimize_ms", trace.optimize_ms},
                          {"reorder_ms", reorder_ms},
                          {"peak_mib_after_load", hwm_load}, {"rss_mib_after_load", rss_load},
                          {"peak_mib_after_forward", status_mib("VmHWM")},
                          {"rss_mib_after_forward", status_mib("VmRSS")},
                          {"minor_faults_after_load", faults_load},
                          {"minor_faults_after_forward", minor_faults()},
                          {"logit_sum", logits.sum().item<double>()}};
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const modelzoo::Error& e) {
    std::cerr << "load_bench: " << e.what() << "\n";
    return 1;
  }
}
