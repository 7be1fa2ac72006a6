#pragma once
// Runs tests/oracle/models_parity.py for one architecture (with builder
// arguments when given) and hands back what it wrote: torchvision's randomised
// weights as read by modelzoo::io, the input batch and torchvision's eval-mode
// output. Used by the family tests that need an oracle beyond the shared
// parity table (builder kwargs, renamed keys).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/io/io.h"
#include "support/process.h"

namespace mz_test {

/// One oracle run.
struct TorchvisionCase {
  modelzoo::io::StateDict weights;  ///< torchvision's state_dict()
  at::Tensor input;                 ///< 1 x 3 x size x size
  at::Tensor expected;              ///< torchvision's output for input
};

/// Runs the oracle for `arch` on a size x size input with builder `kwargs`
/// (a JSON object); fails the current test (returns false) when it cannot.
inline bool run_torchvision(const std::string& arch, int size, const nlohmann::json& kwargs,
                            TorchvisionCase* out) {
  TempDir dir("mz_models_oracle_");
  const std::string script = std::string(MZ_SOURCE_DIR) + "/tests/oracle/models_parity.py";
  const auto run = run_command(std::string(python()) + " " + shell_quote(script) + " --out " +
                               shell_quote(dir.path().string()) + " --size " + std::to_string(size) +
                               " --kwargs " + shell_quote(kwargs.dump()) + " " + arch);
  EXPECT_EQ(run.exit_code, 0) << "oracle failed for " << arch << ": " << run.out;
  if (run.exit_code != 0) return false;
  // Read without mmap: the files go away with `dir`.
  modelzoo::io::ReadOptions ro;
  ro.mmap = false;
  out->weights = modelzoo::io::read_state_dict(dir / (arch + ".weights.pth"), ro);
  const modelzoo::io::Value io = modelzoo::io::read(dir / (arch + ".io.pth"), ro);
  EXPECT_EQ(io.at("arch").as_str(), arch);
  out->input = io.at("input").as_tensor();
  out->expected = io.at("output").as_tensor();
  return true;
}

/// max |out - expected| relative to max(1, max |expected|).
inline double relative_diff(const at::Tensor& out, const at::Tensor& expected) {
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (out - expected).abs().max().item<double>() / scale;
}

}  // namespace mz_test
