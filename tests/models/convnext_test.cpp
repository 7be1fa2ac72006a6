// ConvNeXt tiny/small/base/large: stage layout, CNBlock structure and its
// layer_scale parameter, LayerNorm eps, stochastic depth schedule,
// initialisation, builder arguments, and numeric parity with torchvision for
// convnext_tiny (with a layer scale of 0.5 so that every block weighs on the
// output). The state_dict layout of every architecture is checked against
// its golden in models_test.cpp; the parity of every architecture runs under `slow`.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/convnext.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

struct Variant {
  std::string name;
  std::vector<int64_t> widths, depths;
  double sd_prob;
};

const std::vector<Variant> kConvNeXts = {
    {"convnext_tiny", {96, 192, 384, 768}, {3, 3, 9, 3}, 0.1},
    {"convnext_small", {96, 192, 384, 768}, {3, 3, 27, 3}, 0.4},
    {"convnext_base", {128, 256, 512, 1024}, {3, 3, 27, 3}, 0.5},
    {"convnext_large", {192, 384, 768, 1536}, {3, 3, 27, 3}, 0.5},
};

}  // namespace

TEST(ConvNeXt, StagesAndStochasticDepthPerVariant) {
  for (const auto& v : kConvNeXts) {
    const mm::ArchInfo* info = mm::find_architecture(v.name);
    ASSERT_NE(info, nullptr) << v.name;
    EXPECT_EQ(info->family, "convnext");
    mm::Classifier c = info->build(uninit(10));
    auto* m = dynamic_cast<mm::ConvNeXtImpl*>(c.get());
    ASSERT_NE(m, nullptr) << v.name;
    // stem, then stage / downsample pairs, the last stage without downsampling.
    ASSERT_EQ(m->features->size(), 8u) << v.name;
    auto stem = m->features->at<mm::Conv2dNormActivationImpl>(0);
    EXPECT_EQ(stem->conv->weight.sizes(), (at::IntArrayRef{v.widths[0], 3, 4, 4}));
    EXPECT_TRUE(stem->conv->bias.defined());
    EXPECT_EQ((*stem->conv->options().padding())[0], 0);
    EXPECT_NE(std::dynamic_pointer_cast<mm::LayerNorm2dImpl>(stem->norm), nullptr);
    const int64_t total = v.depths[0] + v.depths[1] + v.depths[2] + v.depths[3];
    int64_t k = 0;
    for (std::size_t s = 0; s < 4; ++s) {
      auto stage = m->features->at<mm::SequentialImpl>(1 + 2 * s);
      ASSERT_EQ(static_cast<int64_t>(stage->size()), v.depths[s]) << v.name;
      for (std::size_t i = 0; i < stage->size(); ++i, ++k) {
        auto blk = stage->at<mm::CNBlockImpl>(i);
        EXPECT_EQ(blk->layer_scale.sizes(), (at::IntArrayRef{v.widths[s], 1, 1}));
        EXPECT_DOUBLE_EQ(blk->stochastic_depth->p(), v.sd_prob * k / (total - 1.0)) << v.name << " " << k;
      }
      if (s < 3) {
        auto down = m->features->at<mm::SequentialImpl>(2 + 2 * s);
        EXPECT_NE(down->at<mm::LayerNorm2dImpl>(0), nullptr);
        EXPECT_EQ(down->at<mm::Conv2dImpl>(1)->weight.sizes(),
                  (at::IntArrayRef{v.widths[s + 1], v.widths[s], 2, 2}));
      }
    }
    EXPECT_EQ(m->classifier->at<mm::LinearImpl>(2)->weight.sizes(), (at::IntArrayRef{10, v.widths[3]}));
  }
}

TEST(ConvNeXt, CNBlockLayoutAndForward) {
  mm::CNBlock blk(8, 0.5, 0.0, mm::InitPolicy::torch_default());
  std::vector<std::string> names;
  for (const auto& p : blk->named_parameters()) names.push_back(p.key());
  // Own parameter first, as Python's state_dict() lists it.
  EXPECT_EQ(names, (std::vector<std::string>{"layer_scale", "block.0.weight", "block.0.bias", "block.2.weight",
                                             "block.2.bias", "block.3.weight", "block.3.bias", "block.5.weight",
                                             "block.5.bias"}));
  EXPECT_TRUE(at::equal(blk->layer_scale, at::full({8, 1, 1}, 0.5)));
  auto ln = blk->block->at<mm::LayerNormImpl>(2);
  EXPECT_DOUBLE_EQ(ln->options().eps(), 1e-6);
  EXPECT_EQ(blk->block->at<mm::Conv2dImpl>(0)->options().groups(), 8);
  EXPECT_EQ(blk->block->at<mm::LinearImpl>(3)->weight.sizes(), (at::IntArrayRef{32, 8}));
  EXPECT_NE(blk->block->at<mm::GELUImpl>(4), nullptr);

  // x + layer_scale * MLP(LN(dwconv(x))) computed by hand.
  blk->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 8, 6, 6});
  auto dw = blk->block->at<mm::Conv2dImpl>(0);
  auto l1 = blk->block->at<mm::LinearImpl>(3), l2 = blk->block->at<mm::LinearImpl>(5);
  at::Tensor t = at::conv2d(x, dw->weight, dw->bias, 1, 3, 1, 8).permute({0, 2, 3, 1});
  t = at::layer_norm(t, {8}, ln->weight, ln->bias, 1e-6);
  t = at::linear(at::gelu(at::linear(t, l1->weight, l1->bias)), l2->weight, l2->bias).permute({0, 3, 1, 2});
  EXPECT_TRUE(at::allclose(blk->forward(x), x + 0.5 * t, 1e-5, 1e-6));
}

TEST(ConvNeXt, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::convnext_tiny(mm::ArchArgs{1000, true, {}});
  auto blk = m->features->at<mm::SequentialImpl>(5)->at<mm::CNBlockImpl>(0);
  // trunc_normal_(std=0.02) on [-2, 2]: std 0.02, zero biases; layer_scale 1e-6.
  auto fc1 = blk->block->at<mm::LinearImpl>(3);
  EXPECT_NEAR(fc1->weight.std().item<double>(), 0.02, 0.0005);
  EXPECT_TRUE(at::equal(fc1->bias, at::zeros_like(fc1->bias)));
  EXPECT_TRUE(at::allclose(blk->layer_scale, at::full({384, 1, 1}, 1e-6)));
  auto ln = m->classifier->at<mm::LayerNorm2dImpl>(0);
  EXPECT_TRUE(at::equal(ln->weight, at::ones({768})));
  EXPECT_DOUBLE_EQ(ln->options().eps(), 1e-6);
  auto head = m->classifier->at<mm::LinearImpl>(2);
  EXPECT_NEAR(head->weight.std().item<double>(), 0.02, 0.0005);
  EXPECT_TRUE(at::equal(head->bias, at::zeros({1000})));
}

TEST(ConvNeXt, ForwardArgumentsAndBadOptions) {
  auto m = mm::convnext_tiny(mm::ArchArgs{4, true, {{"stochastic_depth_prob", 0.3}, {"layer_scale", 0.25},
                                                    {"image_size", 32}}});
  EXPECT_DOUBLE_EQ(m->features->at<mm::SequentialImpl>(7)->at<mm::CNBlockImpl>(2)->stochastic_depth->p(), 0.3);
  EXPECT_TRUE(at::allclose(m->features->at<mm::SequentialImpl>(1)->at<mm::CNBlockImpl>(0)->layer_scale,
                           at::full({96, 1, 1}, 0.25)));
  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 32, 32});
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 4}));
  EXPECT_TRUE(at::equal(a, m->forward(x)));
  m->train();
  at::manual_seed(1);
  EXPECT_FALSE(at::equal(m->forward(x), a)) << "training mode applies stochastic depth";
  m->eval();
  EXPECT_EQ(m->forward(at::randn({1, 3, 48, 40})).sizes(), (at::IntArrayRef{1, 4}));

  EXPECT_HAS(error_of([] { mm::convnext_tiny(uninit(1000, {{"dropout", 0.1}})); }),
             "convnext_tiny: unknown extra argument 'dropout' (accepted: stochastic_depth_prob, layer_scale, "
             "image_size)");
  EXPECT_HAS(error_of([] { mm::convnext_base(uninit(1000, {{"stochastic_depth_prob", -1}})); }),
             "ConvNeXt: stochastic_depth_prob must be in [0, 1], got -1");
  EXPECT_HAS(error_of([] { mm::ConvNeXt(mm::ConvNeXtOptions(std::vector<mm::CNBlockConfig>{})); }),
             "ConvNeXt: the block_setting should not be empty");
  EXPECT_HAS(error_of([] {
               mm::ConvNeXt(mm::ConvNeXtOptions(std::vector<mm::CNBlockConfig>{{96, c10::nullopt, 0}}));
             }),
             "ConvNeXt: stage 0 needs positive channels and layers (got input_channels=96 out_channels=None "
             "num_layers=0)");
}

TEST(ConvNeXt, MatchesTorchvisionTiny) {
  // layer_scale 0.5 instead of 1e-6, so that the blocks are not drowned by
  // the residual stream; the stochastic depth setting must not matter in eval.
  const nlohmann::json kwargs = {{"layer_scale", 0.5}, {"stochastic_depth_prob", 0.3}, {"num_classes", 16}};
  mz_test::TorchvisionCase tv;
  ASSERT_TRUE(mz_test::run_torchvision("convnext_tiny", 32, kwargs, &tv));
  auto model = mm::convnext_tiny(uninit(16));
  const auto report = modelzoo::state_dict::load_state_dict(*model, tv.weights);
  ASSERT_TRUE(report.ok()) << report.to_string();
  EXPECT_TRUE(at::allclose(model->features->at<mm::SequentialImpl>(3)->at<mm::CNBlockImpl>(1)->layer_scale,
                           at::full({192, 1, 1}, 0.5)));
  model->eval();
  at::NoGradGuard no_grad;
  const at::Tensor out = model->forward(tv.input);
  ASSERT_EQ(out.sizes(), tv.expected.sizes());
  const double diff = mz_test::relative_diff(out, tv.expected);
  std::cout << "[ parity ] convnext_tiny 32x32 (layer_scale 0.5): relative max |diff| = " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
}
