// Numeric parity of RAFT with torchvision on two random frames whose size
// is not a multiple of 8 (the oracle pads them as RAFT's InputPadder and
// crops the flows back, as modelzoo does inside forward): every iteration's
// flow within 1e-4 x max(1, max |expected|), and flow_to_image of the last
// one equal to torchvision.utils.flow_to_image. test_optical_flow runs
// raft_small with 3 updates; test_optical_flow_slow (MZ_PARITY_ALL, label
// `slow`) both models with torchvision's default 12 updates. Every case is
// checked twice: as built, and through optimize_for_inference (the hub's
// default for pretrained models), with the same tolerance.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/inference/inference.h"
#include "modelzoo/optical_flow/flow_image.h"
#include "modelzoo/optical_flow/raft.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/dense_oracle.h"

namespace mf = modelzoo::optical_flow;

namespace {

struct Case {
  std::string arch;
  int h, w, updates;
  bool default_run;
};

const std::vector<Case> kCases = {
    {"raft_small", 131, 149, 3, true},
    {"raft_small", 190, 250, 12, false},
    {"raft_large", 190, 250, 12, false},
    {"raft_large", 136, 200, 4, false},
};

class FlowParity : public ::testing::TestWithParam<Case> {};

TEST_P(FlowParity, EveryIterationMatchesTorchvision) {
  const Case& c = GetParam();
  mz_test::DenseCase tv;
  ASSERT_TRUE(mz_test::run_dense_oracle(
      "optical_flow", c.arch,
      "--size " + std::to_string(c.h) + "x" + std::to_string(c.w) + " --forward-kwargs " +
          mz_test::shell_quote("{\"num_flow_updates\": " + std::to_string(c.updates) + "}"),
      &tv));
  modelzoo::models::ArchArgs args;
  args.init_weights = false;
  mf::RAFT model = mf::build_flow_model(c.arch, args);
  ASSERT_NO_FATAL_FAILURE(mz_test::load_oracle_weights(*model, tv));
  model->eval();
  at::NoGradGuard no_grad;
  for (const bool optimized : {false, true}) {
    std::string how;
    if (optimized) how = " optimized (" + modelzoo::optimize_for_inference(*model).to_string() + ")";
    const auto flows = model->forward_all(tv.tensor("input"), tv.tensor("input2"), c.updates);
    const at::Tensor expected = tv.tensor("flows");
    ASSERT_EQ(static_cast<int64_t>(flows.size()), expected.size(0));
    double worst = 0;
    for (std::size_t i = 0; i < flows.size(); ++i) {
      ASSERT_EQ(flows[i].sizes(), expected[i].sizes());
      EXPECT_EQ(flows[i].size(2), c.h);
      EXPECT_EQ(flows[i].size(3), c.w);
      EXPECT_TRUE(flows[i].is_contiguous()) << how;  // NCHW order on every path
      worst = std::max(worst, mz_test::dense_relative_diff(flows[i], expected[i]));
    }
    std::cout << "[ parity ] " << c.arch << " " << c.h << "x" << c.w << " updates=" << c.updates << how
              << ": relative max |diff| over all iterations = " << worst << "\n";
    EXPECT_LE(worst, 1e-4) << how;
    // The final flow alone.
    EXPECT_TRUE(model->forward(tv.tensor("input"), tv.tensor("input2"), c.updates).equal(flows.back())) << how;
  }
  // The picture of torchvision's final flow.
  const at::Tensor expected = tv.tensor("flows");
  const at::Tensor picture = mf::flow_to_image(expected[expected.size(0) - 1]);
  const at::Tensor want = tv.tensor("flow_image");
  ASSERT_EQ(picture.sizes(), want.sizes());
  EXPECT_LE((picture.to(at::kInt) - want.to(at::kInt)).abs().max().item<int>(), 0);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.arch + "_" + std::to_string(info.param.h) + "x" + std::to_string(info.param.w) + "_" +
         std::to_string(info.param.updates);
}

INSTANTIATE_TEST_SUITE_P(Builders, FlowParity, ::testing::ValuesIn(mz_test::selected_cases(kCases)), case_name);

}  // namespace
