// MobileNet v2 and v3: structure, normalisation settings, initialisation,
// builder arguments and numeric parity with torchvision beyond the shared
// parity table (width multiplier, reduced and dilated tails). The state_dict
// layout of every architecture is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/mobilenetv2.h"
#include "modelzoo/models/mobilenetv3.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::parity;
using mz_test::error_of;
using mz_test::uninit;

// Conv2dNormActivation at position i of a Sequential.
std::shared_ptr<mm::Conv2dNormActivationImpl> cna(const mm::Sequential& s, std::size_t i) {
  return s->at<mm::Conv2dNormActivationImpl>(i);
}

}  // namespace

TEST(MobileNet, CatalogListsEveryArchitecture) {
  for (const std::string name : {"mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"}) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "mobilenet");
    EXPECT_TRUE(info->key_renames.empty());
    EXPECT_TRUE(info->ignored_keys.empty());
    mm::Classifier model = info->build(uninit(10, {{"image_size", 1}}));
    if (name == "mobilenet_v2") {
      EXPECT_NE(dynamic_cast<mm::MobileNetV2Impl*>(model.get()), nullptr);
    } else {
      EXPECT_NE(dynamic_cast<mm::MobileNetV3Impl*>(model.get()), nullptr) << name;
    }
  }
}

TEST(MobileNet, MakeDivisibleMatchesTorchvision) {
  // torchvision.models._utils._make_divisible for the same arguments.
  EXPECT_EQ(mm::make_divisible(32 * 0.5, 8), 16);
  EXPECT_EQ(mm::make_divisible(1280 * 1.4, 8), 1792);
  EXPECT_EQ(mm::make_divisible(3.0, 8), 8);    // never below the divisor
  EXPECT_EQ(mm::make_divisible(17.0, 8), 16);  // down to 16: within 10%
  EXPECT_EQ(mm::make_divisible(23.9, 8), 24);
  EXPECT_EQ(mm::make_divisible(35.0, 8), 32);
  EXPECT_EQ(mm::make_divisible(14.0, 8), 16);
  EXPECT_EQ(mm::make_divisible(10.0, 8, 4), 16);   // 8 would lose more than 10%
  EXPECT_EQ(mm::make_divisible(10.0, 8, 12), 12);  // min_value wins
  EXPECT_HAS(error_of([] { mm::make_divisible(10.0, 0); }), "divisor must be at least 1, got 0");
}

TEST(MobileNetV2, Layout) {
  auto m = mm::mobilenet_v2(uninit());
  // Stem, 17 inverted residuals (1+2+3+4+3+3+1), last 1x1 convolution.
  ASSERT_EQ(m->features->size(), 19u);
  EXPECT_EQ(m->last_channel(), 1280);
  auto stem = cna(m->features, 0);
  EXPECT_EQ(stem->conv->weight.sizes(), (at::IntArrayRef{32, 3, 3, 3}));
  EXPECT_EQ((*stem->conv->options().stride())[0], 2);
  EXPECT_FALSE(stem->conv->bias.defined());
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLU6Impl>(stem->activation), nullptr);

  // t = 1: no expansion layer (depthwise, projection, BN).
  auto first = m->features->at<mm::MobileNetV2InvertedResidualImpl>(1);
  EXPECT_EQ(first->conv->size(), 3u);
  EXPECT_FALSE(first->use_res_connect());
  // 24 -> 24 at stride 1: residual; expansion to 144 channels, depthwise groups = 144.
  auto res = m->features->at<mm::MobileNetV2InvertedResidualImpl>(3);
  ASSERT_EQ(res->conv->size(), 4u);
  EXPECT_TRUE(res->use_res_connect());
  auto dw = cna(res->conv, 1);
  EXPECT_EQ(dw->conv->options().groups(), 144);
  EXPECT_EQ(dw->conv->weight.sizes(), (at::IntArrayRef{144, 1, 3, 3}));
  EXPECT_EQ(res->conv->at<mm::Conv2dImpl>(2)->weight.sizes(), (at::IntArrayRef{24, 144, 1, 1}));
  EXPECT_NE(res->conv->at<mm::BatchNorm2dImpl>(3), nullptr);
  // BatchNorm keeps torch.nn's defaults in v2.
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(stem->norm);
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options().eps(), 1e-5);
  EXPECT_DOUBLE_EQ(*bn->options().momentum(), 0.1);

  ASSERT_EQ(m->classifier->size(), 2u);
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.2);
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(1)->weight.sizes(), (at::IntArrayRef{1000, 1280}));
}

TEST(MobileNetV2, WidthMultiplierAndArguments) {
  auto narrow = mm::mobilenet_v2(uninit(10, {{"width_mult", 0.5}, {"dropout", 0.3}}));
  EXPECT_EQ(cna(narrow->features, 0)->conv->weight.size(0), 16);
  EXPECT_EQ(narrow->last_channel(), 1280) << "the last layer never shrinks";
  EXPECT_DOUBLE_EQ(narrow->classifier->at<mm::DropoutImpl>(0)->p(), 0.3);
  auto wide = mm::mobilenet_v2(uninit(10, {{"width_mult", 1.4}}));
  EXPECT_EQ(wide->last_channel(), 1792);
  EXPECT_EQ(cna(wide->features, 0)->conv->weight.size(0), 48);
  auto coarse = mm::mobilenet_v2(uninit(10, {{"round_nearest", 1}, {"width_mult", 0.35}}));
  EXPECT_EQ(cna(coarse->features, 0)->conv->weight.size(0), 11);  // int(32*0.35 + 0.5)

  EXPECT_HAS(error_of([] { mm::mobilenet_v2(uninit(10, {{"width", 1}})); }),
             "mobilenet_v2: unknown extra argument 'width'");
  EXPECT_HAS(error_of([] { mm::mobilenet_v2(uninit(10, {{"round_nearest", 2.5}})); }),
             "'round_nearest' must be an integer, got 2.5");
  EXPECT_HAS(error_of([] { mm::mobilenet_v2(uninit(10, {{"width_mult", 0}})); }),
             "width_mult must be positive, got 0");
  EXPECT_HAS(error_of([] { mm::mobilenet_v2(uninit(0)); }), "num_classes must be at least 1, got 0");
  EXPECT_HAS(error_of([] {
               mm::MobileNetV2(mm::MobileNetV2Options().inverted_residual_setting(
                   std::vector<mm::MobileNetV2Stage>{mm::MobileNetV2Stage{6, 24, 2, 3}}));
             }),
             "row [6, 24, 2, 3] is invalid");
  EXPECT_HAS(error_of([] { mm::MobileNetV2(mm::MobileNetV2Options().inverted_residual_setting({})); }),
             "inverted_residual_setting must not be empty");
}

TEST(MobileNetV2, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::mobilenet_v2(mm::ArchArgs{});
  // kaiming_normal_(mode="fan_out"): std = sqrt(2 / (out * kh * kw)).
  auto last = cna(m->features, 18)->conv;  // 320 -> 1280, 1x1
  const double want = std::sqrt(2.0 / 1280);
  EXPECT_NEAR(last->weight.std().item<double>(), want, 0.03 * want);
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(cna(m->features, 18)->norm);
  EXPECT_TRUE(at::equal(bn->weight, at::ones({1280})));
  EXPECT_TRUE(at::equal(bn->bias, at::zeros({1280})));
  auto fc = m->classifier->at<mm::LinearImpl>(1);
  EXPECT_NEAR(fc->weight.std().item<double>(), 0.01, 0.0003);
  EXPECT_TRUE(at::equal(fc->bias, at::zeros({1000})));
}

TEST(MobileNetV3, LargeLayout) {
  auto m = mm::mobilenet_v3_large(uninit());
  ASSERT_EQ(m->features->size(), 17u);  // stem, 15 blocks, last conv
  auto stem = cna(m->features, 0);
  EXPECT_EQ(stem->conv->weight.sizes(), (at::IntArrayRef{16, 3, 3, 3}));
  EXPECT_NE(std::dynamic_pointer_cast<mm::HardswishImpl>(stem->activation), nullptr);
  // torchvision: partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) everywhere.
  for (std::size_t i : {0u, 16u}) {
    auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(cna(m->features, i)->norm);
    ASSERT_NE(bn, nullptr);
    EXPECT_DOUBLE_EQ(bn->options().eps(), 0.001);
    EXPECT_DOUBLE_EQ(*bn->options().momentum(), 0.01);
  }
  // Block 1: 16 -> 16, no expansion, ReLU, residual.
  auto b1 = m->features->at<mm::MobileNetV3InvertedResidualImpl>(1);
  EXPECT_EQ(b1->block->size(), 2u);
  EXPECT_TRUE(b1->use_res_connect());
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLUImpl>(cna(b1->block, 0)->activation), nullptr);
  EXPECT_EQ(cna(b1->block, 1)->activation, nullptr) << "projection has no activation";
  // Block 4: 24 -> 40, kernel 5, stride 2, SE with squeeze = make_divisible(72 // 4, 8) = 24.
  auto b4 = m->features->at<mm::MobileNetV3InvertedResidualImpl>(4);
  ASSERT_EQ(b4->block->size(), 4u);
  EXPECT_FALSE(b4->use_res_connect());
  EXPECT_EQ(cna(b4->block, 1)->conv->weight.sizes(), (at::IntArrayRef{72, 1, 5, 5}));
  EXPECT_EQ((*cna(b4->block, 1)->conv->options().padding())[0], 2);
  auto se = b4->block->at<mm::SqueezeExcitationImpl>(2);
  EXPECT_EQ(se->fc1->weight.sizes(), (at::IntArrayRef{24, 72, 1, 1}));
  EXPECT_TRUE(se->fc1->bias.defined());
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLUImpl>(se->activation), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<mm::HardsigmoidImpl>(se->scale_activation), nullptr);
  // Block 7: Hardswish from here on.
  auto b7 = m->features->at<mm::MobileNetV3InvertedResidualImpl>(7);
  EXPECT_NE(std::dynamic_pointer_cast<mm::HardswishImpl>(cna(b7->block, 0)->activation), nullptr);
  // Last conv: 160 -> 960; classifier 960 -> 1280 -> classes.
  EXPECT_EQ(cna(m->features, 16)->conv->weight.sizes(), (at::IntArrayRef{960, 160, 1, 1}));
  ASSERT_EQ(m->classifier->size(), 4u);
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(0)->weight.sizes(), (at::IntArrayRef{1280, 960}));
  EXPECT_NE(m->classifier->at<mm::HardswishImpl>(1), nullptr);
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(2)->p(), 0.2);
}

TEST(MobileNetV3, SmallLayoutAndTailOptions) {
  auto m = mm::mobilenet_v3_small(uninit(10));
  ASSERT_EQ(m->features->size(), 13u);  // stem, 11 blocks, last conv
  auto b1 = m->features->at<mm::MobileNetV3InvertedResidualImpl>(1);
  EXPECT_NE(b1->block->at<mm::SqueezeExcitationImpl>(1), nullptr) << "first small block has SE";
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(0)->weight.sizes(), (at::IntArrayRef{1024, 576}));
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(3)->weight.sizes(), (at::IntArrayRef{10, 1024}));

  // reduced_tail halves the last stage; dilated keeps its stride at 1 with dilation 2.
  auto t = mm::mobilenet_v3_large(uninit(10, {{"reduced_tail", true}, {"dilated", true}}));
  auto c4 = t->features->at<mm::MobileNetV3InvertedResidualImpl>(13);
  auto dw = cna(c4->block, 1)->conv;
  EXPECT_EQ((*dw->options().stride())[0], 1);
  EXPECT_EQ((*dw->options().dilation())[0], 2);
  EXPECT_EQ((*dw->options().padding())[0], 4);
  EXPECT_EQ(cna(t->features, 16)->conv->weight.sizes(), (at::IntArrayRef{480, 80, 1, 1}));
  EXPECT_EQ(t->classifier->at<mm::LinearImpl>(0)->weight.sizes(), (at::IntArrayRef{640, 480}));

  const auto cfg = mm::mobilenet_v3_config("mobilenet_v3_small", 0.75);
  EXPECT_EQ(cfg.blocks.size(), 11u);
  EXPECT_EQ(cfg.blocks[1].expanded_channels, 56);  // make_divisible(72 * 0.75, 8)
  EXPECT_EQ(cfg.last_channel, 768);

  EXPECT_HAS(error_of([] { mm::mobilenet_v3_config("mobilenet_v3_medium"); }),
             "unsupported model type 'mobilenet_v3_medium'");
  EXPECT_HAS(error_of([] { mm::mobilenet_v3_small(uninit(10, {{"dilated", 1}})); }),
             "mobilenet_v3_small: extra argument 'dilated' must be true or false, got 1");
  EXPECT_HAS(error_of([] { mm::mobilenet_v3_large(uninit(10, {{"round_nearest", 8}})); }),
             "unknown extra argument 'round_nearest'");
  EXPECT_HAS(error_of([] { mm::MobileNetV3(mm::MobileNetV3Config{}); }),
             "inverted_residual_setting should not be empty");
}

TEST(MobileNetV3, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::mobilenet_v3_large(mm::ArchArgs{});
  auto b4 = m->features->at<mm::MobileNetV3InvertedResidualImpl>(4);
  auto se = b4->block->at<mm::SqueezeExcitationImpl>(2);
  // SE convolutions follow the same loop: kaiming_normal_(fan_out), zero bias.
  EXPECT_TRUE(at::equal(se->fc1->bias, at::zeros({24})));
  const double want = std::sqrt(2.0 / 960);  // last conv: fan_out = 960
  EXPECT_NEAR(cna(m->features, 16)->conv->weight.std().item<double>(), want, 0.03 * want);
  auto fc = m->classifier->at<mm::LinearImpl>(0);
  EXPECT_NEAR(fc->weight.std().item<double>(), 0.01, 0.0003);
  EXPECT_TRUE(at::equal(fc->bias, at::zeros({1280})));
}

TEST(MobileNetV3, ForwardModes) {
  auto m = mm::mobilenet_v3_small(mm::ArchArgs{5, true, {}});
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 32, 32});
  m->eval();
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_TRUE(at::equal(a, m->forward(x)));
  EXPECT_EQ(m->forward(at::randn({1, 3, 1, 1})).sizes(), (at::IntArrayRef{1, 5})) << "min_size 1x1";
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 4, 32, 32})); }), "expected 3 input channels");
}

TEST(MobileNet, ParityWithBuilderArguments) {
  EXPECT_LE(parity("mobilenet_v3_large", 48, {{"width_mult", 0.75}, {"reduced_tail", true}, {"dilated", true}}),
            1e-4);
}
