// Numeric parity of the video builders with torchvision: the oracle
// (tests/oracle/dense_parity.py --task video) randomises torchvision's model
// and runs it on a random clip; modelzoo loads the weights strictly and must
// reproduce the logits within 1e-4 x max(1, max |expected|). test_video runs
// the cases marked for the default run (a short, small clip);
// test_video_slow (MZ_PARITY_ALL, label `slow`) runs every builder on 16
// frames at its preset's crop size. Every case is checked twice: as built,
// and through optimize_for_inference (the hub's default for pretrained
// models), with the same tolerance.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/inference/inference.h"
#include "modelzoo/state_dict/state_dict.h"
#include "modelzoo/video/models.h"
#include "support/dense_oracle.h"

namespace mv = modelzoo::video;

namespace {

struct Case {
  std::string arch;
  int frames, size;
  bool default_run;
};

const std::vector<Case> kCases = {
    {"r3d_18", 4, 40, true},        {"r3d_18", 16, 112, false},  {"mc3_18", 16, 112, false},
    {"r2plus1d_18", 16, 112, false}, {"s3d", 16, 224, false},      {"mvit_v1_b", 16, 224, false},
    {"mvit_v2_s", 16, 224, false},
};

class VideoParity : public ::testing::TestWithParam<Case> {};

TEST_P(VideoParity, MatchesTorchvision) {
  const Case& c = GetParam();
  mz_test::DenseCase tv;
  ASSERT_TRUE(mz_test::run_dense_oracle(
      "video", c.arch, "--frames " + std::to_string(c.frames) + " --size " + std::to_string(c.size), &tv));
  modelzoo::models::ArchArgs args;
  args.num_classes = 400;
  args.init_weights = false;
  mv::VideoClassifier model = mv::build_video_classifier(c.arch, args);
  ASSERT_NO_FATAL_FAILURE(mz_test::load_oracle_weights(*model, tv));
  model->eval();
  at::NoGradGuard no_grad;
  for (const bool optimized : {false, true}) {
    std::string how;
    if (optimized) how = " optimized (" + modelzoo::optimize_for_inference(*model).to_string() + ")";
    const at::Tensor out = model->forward(tv.tensor("input"));
    const at::Tensor expected = tv.tensor("output");
    ASSERT_EQ(out.sizes(), expected.sizes());
    const double diff = mz_test::dense_relative_diff(out, expected);
    std::cout << "[ parity ] " << c.arch << " " << c.frames << "x" << c.size << "x" << c.size << how
              << ": relative max |diff| = " << diff << "\n";
    EXPECT_LE(diff, 1e-4) << how;
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.arch + "_" + std::to_string(info.param.frames) + "x" + std::to_string(info.param.size);
}

INSTANTIATE_TEST_SUITE_P(Builders, VideoParity, ::testing::ValuesIn(mz_test::selected_cases(kCases)), case_name);

}  // namespace
