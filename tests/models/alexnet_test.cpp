// AlexNet: layer slots, initialisation, builder arguments and input checks.
// Numeric parity with torchvision is in the shared table (parity_test.cpp);
// the state_dict layout is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/alexnet.h"
#include "modelzoo/models/catalog.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;

}  // namespace

TEST(AlexNet, CatalogAndLayerSlots) {
  const mm::ArchInfo* info = mm::find_architecture("alexnet");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->family, "alexnet");
  auto m = mm::alexnet(mm::ArchArgs{1000, false, {}});
  // conv relu pool conv relu pool conv relu conv relu conv relu pool
  ASSERT_EQ(m->features->size(), 13u);
  for (std::size_t i : {0u, 3u, 6u, 8u, 10u}) EXPECT_NE(m->features->at<mm::Conv2dImpl>(i), nullptr) << i;
  for (std::size_t i : {2u, 5u, 12u}) EXPECT_NE(m->features->at<mm::MaxPool2dImpl>(i), nullptr) << i;
  EXPECT_EQ(m->features->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{64, 3, 11, 11}));
  EXPECT_EQ((*m->features->at<mm::Conv2dImpl>(0)->options().stride())[0], 4);
  // dropout linear relu dropout linear relu linear
  ASSERT_EQ(m->classifier->size(), 7u);
  EXPECT_NE(m->classifier->at<mm::DropoutImpl>(0), nullptr);
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(1)->weight.sizes(), (at::IntArrayRef{4096, 9216}));
  EXPECT_NE(m->classifier->at<mm::DropoutImpl>(3), nullptr);
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(6)->weight.sizes(), (at::IntArrayRef{1000, 4096}));
  EXPECT_EQ((*m->avgpool->output_size())[0], 6);
}

TEST(AlexNet, KeepsTorchDefaultInitialisation) {
  at::manual_seed(0);
  auto m = mm::alexnet(mm::ArchArgs{1000, true, {}});
  // torch.nn's default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto conv = m->features->at<mm::Conv2dImpl>(6);  // 192 -> 384, 3x3
  const double bound = 1.0 / std::sqrt(192.0 * 9);
  EXPECT_LE(conv->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(conv->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_LE(conv->bias.abs().max().item<double>(), bound);
  EXPECT_GT(conv->bias.abs().max().item<double>(), 0.5 * bound);
  auto fc = m->classifier->at<mm::LinearImpl>(4);
  const double fb = 1.0 / std::sqrt(4096.0);
  EXPECT_NEAR(fc->weight.std().item<double>(), fb / std::sqrt(3.0), 0.02 * fb);
}

TEST(AlexNet, BuilderArgumentsAndInputChecks) {
  auto m = mm::alexnet(mm::ArchArgs{3, true, {{"dropout", 0.3}, {"image_size", 63}}});
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.3);
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(3)->p(), 0.3);
  EXPECT_HAS(error_of([] { mm::alexnet(mm::ArchArgs{1000, false, {{"dropout", 2}}}); }),
             "AlexNet: dropout must be in [0, 1], got 2");
  EXPECT_HAS(error_of([] { mm::alexnet(mm::ArchArgs{1000, false, {{"drop", 0.1}}}); }),
             "alexnet: unknown extra argument 'drop' (accepted: dropout, image_size)");
  EXPECT_HAS(error_of([] { mm::alexnet(mm::ArchArgs{0, false, {}}); }),
             "AlexNet: num_classes must be at least 1, got 0");

  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 63, 70});  // 63 is torchvision's minimum
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_TRUE(at::equal(a, m->forward(x)));
  m->train();
  EXPECT_FALSE(at::equal(m->forward(x), m->forward(x))) << "train mode applies dropout";
  m->eval();
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 3, 62, 224})); }),
             "AlexNet: expected input of shape N x 3 x H x W with H, W >= 63, got [1, 3, 62, 224]");
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 4, 64, 64})); }), "expected 3 input channels");
}
