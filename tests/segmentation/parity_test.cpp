// Numeric parity of every segmentation builder with torchvision: the oracle
// (tests/oracle/dense_parity.py) randomises torchvision's model, runs it on a
// random image of a size that is not a multiple of the output stride, and
// saves weights and outputs; modelzoo loads the weights strictly into its own
// model and must reproduce `out` (and `aux`):
//   max |out - expected| <= 1e-4 * max(1, max |expected|).
// test_segmentation runs the cases marked for the default run;
// test_segmentation_slow (built with MZ_PARITY_ALL, label `slow`) runs all.
// Every case is checked twice: as built, and through optimize_for_inference
// (the hub's default for pretrained models), with the same tolerance.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/inference/inference.h"
#include "modelzoo/segmentation/models.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/dense_oracle.h"

namespace ms = modelzoo::segmentation;

namespace {

struct Case {
  std::string arch;
  bool aux;
  int h, w;
  bool default_run;
};

const std::vector<Case> kCases = {
    {"lraspp_mobilenet_v3_large", false, 75, 61, true},
    {"deeplabv3_mobilenet_v3_large", true, 67, 53, true},
    {"deeplabv3_mobilenet_v3_large", false, 96, 96, false},
    {"fcn_resnet50", true, 67, 53, false},
    {"fcn_resnet50", false, 64, 64, false},
    {"fcn_resnet101", true, 67, 53, false},
    {"deeplabv3_resnet50", true, 67, 53, false},
    {"deeplabv3_resnet101", true, 67, 53, false},
};

class SegmentationParity : public ::testing::TestWithParam<Case> {};

TEST_P(SegmentationParity, MatchesTorchvision) {
  const Case& c = GetParam();
  const nlohmann::json kwargs = c.arch.rfind("lraspp", 0) == 0 ? nlohmann::json::object()
                                                               : nlohmann::json{{"aux_loss", c.aux}};
  mz_test::DenseCase tv;
  ASSERT_TRUE(mz_test::run_dense_oracle("segmentation", c.arch,
                                        "--size " + std::to_string(c.h) + "x" + std::to_string(c.w) +
                                            " --kwargs " + mz_test::shell_quote(kwargs.dump()),
                                        &tv));
  modelzoo::models::ArchArgs args;
  args.num_classes = 21;
  args.init_weights = false;
  args.extra = kwargs;
  ms::Segmenter model = ms::build_segmenter(c.arch, args);
  ASSERT_NO_FATAL_FAILURE(mz_test::load_oracle_weights(*model, tv));
  model->eval();
  at::NoGradGuard no_grad;
  for (const bool optimized : {false, true}) {
    std::string how;
    if (optimized) how = " optimized (" + modelzoo::optimize_for_inference(*model).to_string() + ")";
    const ms::SegmentationOutput y = model->forward(tv.tensor("input"));
    const at::Tensor expected = tv.tensor("out");
    ASSERT_EQ(y.out.sizes(), expected.sizes());
    EXPECT_EQ(y.out.size(2), c.h);
    EXPECT_EQ(y.out.size(3), c.w);
    EXPECT_TRUE(y.out.is_contiguous()) << how;  // NCHW order, whatever layout the convolutions used
    const double diff = mz_test::dense_relative_diff(y.out, expected);
    std::cout << "[ parity ] " << c.arch << " aux=" << c.aux << " " << c.h << "x" << c.w << how
              << ": relative max |diff| out = " << diff;
    EXPECT_LE(diff, 1e-4) << how;
    ASSERT_EQ(y.aux.defined(), tv.has("aux"));
    if (c.aux) {
      ASSERT_EQ(y.aux.sizes(), tv.tensor("aux").sizes());
      EXPECT_TRUE(y.aux.is_contiguous()) << how;
      const double aux_diff = mz_test::dense_relative_diff(y.aux, tv.tensor("aux"));
      std::cout << ", aux = " << aux_diff;
      EXPECT_LE(aux_diff, 1e-4) << how;
    }
    std::cout << "\n";
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.arch + (info.param.aux ? "_aux" : "") + "_" + std::to_string(info.param.h) + "x" +
         std::to_string(info.param.w);
}

INSTANTIATE_TEST_SUITE_P(Builders, SegmentationParity, ::testing::ValuesIn(mz_test::selected_cases(kCases)), case_name);

}  // namespace
