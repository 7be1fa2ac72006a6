#pragma once
// Runs tests/oracle/dense_parity.py for one segmentation, video or optical
// flow architecture and hands back torchvision's randomised weights and the
// record it wrote (input, outputs), read through modelzoo::io.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include "modelzoo/io/io.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/process.h"

namespace mz_test {

/// One oracle run.
struct DenseCase {
  modelzoo::io::StateDict weights;  ///< torchvision's state_dict()
  modelzoo::io::Value record;       ///< {"arch", "input", outputs...}
  /// The tensor `key` of the record.
  at::Tensor tensor(const std::string& key) const { return record.at(key).as_tensor(); }
  /// True when the record has `key`.
  bool has(const std::string& key) const { return record.find(key) != nullptr; }
};

/// Runs the oracle; `extra_args` are more command-line options (--size,
/// --kwargs, ...). Fails the current test (returns false) when it cannot.
inline bool run_dense_oracle(const std::string& task, const std::string& arch,
                             const std::string& extra_args, DenseCase* out) {
  TempDir dir("mz_dense_oracle_");
  const std::string script = std::string(MZ_SOURCE_DIR) + "/tests/oracle/dense_parity.py";
  const auto run = run_command(std::string(python()) + " " + shell_quote(script) + " --task " + task +
                               " --out " + shell_quote(dir.path().string()) + " " + extra_args + " " + arch);
  EXPECT_EQ(run.exit_code, 0) << "oracle failed for " << arch << ": " << run.out;
  if (run.exit_code != 0) return false;
  modelzoo::io::ReadOptions ro;
  ro.mmap = false;  // the files go away with `dir`
  out->weights = modelzoo::io::read_state_dict(dir / (arch + ".weights.pth"), ro);
  out->record = modelzoo::io::read(dir / (arch + ".io.pth"), ro);
  EXPECT_EQ(out->record.at("arch").as_str(), arch);
  return true;
}

/// The cases a parity test runs: those marked default_run, or all of them in
/// the slow label's build (MZ_PARITY_ALL).
template <typename Case>
std::vector<Case> selected_cases(const std::vector<Case>& all) {
#ifdef MZ_PARITY_ALL
  return all;
#else
  std::vector<Case> out;
  for (const auto& c : all) {
    if (c.default_run) out.push_back(c);
  }
  return out;
#endif
}

/// Checks that `module` has torchvision's keys, in the same order, with the
/// same shapes, then loads the oracle's weights into it. Fails fatally: call
/// as ASSERT_NO_FATAL_FAILURE(load_oracle_weights(*model, tv)).
inline void load_oracle_weights(torch::nn::Module& module, const DenseCase& tv) {
  const auto ours = modelzoo::state_dict::state_dict(module);
  ASSERT_EQ(ours.size(), tv.weights.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(ours[i].key(), tv.weights[i].key()) << "key " << i;
    ASSERT_EQ(ours[i].value().sizes(), tv.weights[i].value().sizes()) << ours[i].key();
  }
  const auto report = modelzoo::state_dict::load_state_dict(module, tv.weights);
  ASSERT_TRUE(report.ok()) << report.to_string();
}

/// max |out - expected| relative to max(1, max |expected|).
inline double dense_relative_diff(const at::Tensor& out, const at::Tensor& expected) {
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (out - expected).abs().max().item<double>() / scale;
}

}  // namespace mz_test
