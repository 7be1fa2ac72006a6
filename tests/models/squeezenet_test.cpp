// SqueezeNet 1.0 and 1.1: layer slots, Fire modules, initialisation, builder
// arguments and input checks. Numeric parity with torchvision is in the
// shared table (parity_test.cpp); the state_dict layouts are checked against
// their goldens in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/squeezenet.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;

}  // namespace

TEST(SqueezeNet, CatalogAndLayerSlots) {
  for (const std::string name : {"squeezenet1_0", "squeezenet1_1"}) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "squeezenet");
  }
  auto v0 = mm::squeezenet1_0(mm::ArchArgs{1000, false, {}});
  ASSERT_EQ(v0->features->size(), 13u);
  EXPECT_EQ(v0->features->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{96, 3, 7, 7}));
  for (std::size_t i : {2u, 6u, 11u}) EXPECT_NE(v0->features->at<mm::MaxPool2dImpl>(i), nullptr) << i;
  EXPECT_TRUE(v0->features->at<mm::MaxPool2dImpl>(2)->options().ceil_mode());
  auto fire = v0->features->at<mm::FireImpl>(12);
  std::vector<std::string> names;
  for (const auto& c : fire->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"squeeze", "squeeze_activation", "expand1x1",
                                             "expand1x1_activation", "expand3x3", "expand3x3_activation"}));
  EXPECT_EQ(fire->squeeze->weight.sizes(), (at::IntArrayRef{64, 512, 1, 1}));
  EXPECT_EQ(fire->expand3x3->weight.sizes(), (at::IntArrayRef{256, 64, 3, 3}));

  auto v1 = mm::squeezenet1_1(mm::ArchArgs{1000, false, {}});
  ASSERT_EQ(v1->features->size(), 13u);
  EXPECT_EQ(v1->features->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{64, 3, 3, 3}));
  for (std::size_t i : {2u, 5u, 8u}) EXPECT_NE(v1->features->at<mm::MaxPool2dImpl>(i), nullptr) << i;
  // classifier: dropout, final 1x1 conv, relu, global pool.
  ASSERT_EQ(v1->classifier->size(), 4u);
  EXPECT_NE(v1->classifier->at<mm::DropoutImpl>(0), nullptr);
  EXPECT_EQ(v1->classifier->at<mm::Conv2dImpl>(1)->weight.sizes(), (at::IntArrayRef{1000, 512, 1, 1}));
  EXPECT_NE(v1->classifier->at<mm::AdaptiveAvgPool2dImpl>(3), nullptr);
}

TEST(SqueezeNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::squeezenet1_1(mm::ArchArgs{1000, true, {}});
  // kaiming_uniform_ with torch's defaults (a=0): U(-sqrt(6 / fan_in), sqrt(6 / fan_in)).
  auto conv = m->features->at<mm::FireImpl>(12)->expand3x3;  // fan_in 64 * 9
  const double bound = std::sqrt(6.0 / (64 * 9));
  EXPECT_LE(conv->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(conv->weight.std().item<double>(), bound / std::sqrt(3.0), 0.03 * bound);
  EXPECT_TRUE(at::equal(conv->bias, at::zeros({256})));
  // The final convolution: normal(0, 0.01), zero bias.
  auto final_conv = m->classifier->at<mm::Conv2dImpl>(1);
  EXPECT_NEAR(final_conv->weight.std().item<double>(), 0.01, 0.0003);
  EXPECT_TRUE(at::equal(final_conv->bias, at::zeros({1000})));
}

TEST(SqueezeNet, BuilderArgumentsAndInputChecks) {
  auto m = mm::squeezenet1_0(mm::ArchArgs{6, true, {{"dropout", 0.0}, {"image_size", 21}}});
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.0);
  EXPECT_EQ(m->classifier->at<mm::Conv2dImpl>(1)->weight.size(0), 6);
  EXPECT_HAS(error_of([] { mm::SqueezeNet(mm::SqueezeNetOptions("1_2")); }),
             "SqueezeNet: unsupported version '1_2' (expected 1_0 or 1_1)");
  EXPECT_HAS(error_of([] { mm::squeezenet1_1(mm::ArchArgs{1000, false, {{"dropout", -1}}}); }),
             "SqueezeNet: dropout must be in [0, 1], got -1");
  EXPECT_HAS(error_of([] { mm::squeezenet1_1(mm::ArchArgs{1000, false, {{"version", "1_0"}}}); }),
             "squeezenet1_1: unknown extra argument 'version'");

  at::NoGradGuard no_grad;
  // torchvision's minimum sizes: 21 (1.0) and 17 (1.1).
  m->eval();
  EXPECT_EQ(m->min_input_size(), 21);
  const at::Tensor x = at::randn({2, 3, 21, 30});
  EXPECT_EQ(m->forward(x).sizes(), (at::IntArrayRef{2, 6}));
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 3, 20, 20})); }),
             "SqueezeNet 1_0: expected input of shape N x 3 x H x W with H, W >= 21, got [1, 3, 20, 20]");
  auto v1 = mm::squeezenet1_1(mm::ArchArgs{1000, true, {}});
  v1->eval();
  EXPECT_EQ(v1->min_input_size(), 17);
  const at::Tensor y = at::randn({1, 3, 17, 17});
  const at::Tensor a = v1->forward(y);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{1, 1000}));
  EXPECT_TRUE(at::equal(a, v1->forward(y)));
  EXPECT_GE(a.min().item<double>(), 0.0) << "logits pass a ReLU before the pool";
  v1->train();
  const at::Tensor big = at::randn({1, 3, 64, 64});
  EXPECT_FALSE(at::equal(v1->forward(big), v1->forward(big))) << "train mode applies dropout";
  EXPECT_HAS(error_of([&] { v1->forward(at::randn({1, 3, 17, 16})); }), "H, W >= 17");
}
