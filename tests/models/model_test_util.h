#pragma once
// Helpers shared by the model family tests: building without random
// initialisation, catching modelzoo's errors, and numeric parity with a
// torchvision model built with the same arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <utility>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"

/// EXPECT that the string `haystack` contains `needle`, printing the string.
#define EXPECT_HAS(haystack, needle)                                    \
  do {                                                                  \
    const std::string h_ = (haystack);                                  \
    EXPECT_NE(h_.find(needle), std::string::npos) << "message: " << h_; \
  } while (0)

namespace mz_test {

/// Arguments for a build that skips random initialisation (the weights are
/// loaded or only shapes matter).
inline modelzoo::models::ArchArgs uninit(int64_t classes = 1000,
                                         nlohmann::json extra = nlohmann::json::object()) {
  modelzoo::models::ArchArgs a;
  a.num_classes = classes;
  a.init_weights = false;
  a.extra = std::move(extra);
  return a;
}

/// As uninit(1000, extra).
inline modelzoo::models::ArchArgs uninit(nlohmann::json extra) { return uninit(1000, std::move(extra)); }

/// The message of the modelzoo::Error that `f` throws; fails the test when
/// it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const modelzoo::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected modelzoo::Error";
  return "";
}

/// Loads torchvision's randomised model for `arch` built with `kwargs`
/// (strictly) into the catalog's build with the same extra arguments and
/// returns max |out - expected| relative to the output scale on a
/// size x size input (infinity when the oracle fails).
inline double parity(const std::string& arch, int size, const nlohmann::json& kwargs) {
  TorchvisionCase tv;
  if (!run_torchvision(arch, size, kwargs, &tv)) return INFINITY;
  // torchvision's num_classes is modelzoo's ArchArgs::num_classes; the rest
  // are the builder's extra arguments.
  nlohmann::json extra = kwargs;
  const int64_t classes = extra.contains("num_classes") ? extra["num_classes"].get<int64_t>() : 1000;
  extra.erase("num_classes");
  modelzoo::models::Classifier model = modelzoo::models::build_architecture(arch, uninit(classes, extra));
  const auto report = modelzoo::state_dict::load_state_dict(*model, tv.weights);
  EXPECT_TRUE(report.ok()) << report.to_string();
  if (!report.ok()) return INFINITY;
  model->eval();
  at::NoGradGuard no_grad;
  const at::Tensor out = model->forward(tv.input);
  EXPECT_EQ(out.sizes(), tv.expected.sizes());
  if (out.sizes() != tv.expected.sizes()) return INFINITY;
  const double diff = relative_diff(out, tv.expected);
  std::cout << "[ parity ] " << arch << " " << kwargs.dump() << " " << size << "x" << size
            << ": relative max |diff| = " << diff << "\n";
  return diff;
}

}  // namespace mz_test
