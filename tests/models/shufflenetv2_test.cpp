// ShuffleNet v2: channel shuffle, unit structure (two-branch and split
// units), stage layout, initialisation and builder arguments. Numeric parity
// runs in the shared parity table (parity_test.cpp); the state_dict layout of
// every architecture is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/shufflenetv2.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

}  // namespace

TEST(ShuffleNetV2, CatalogListsEveryArchitecture) {
  const std::vector<std::pair<std::string, int64_t>> archs = {{"shufflenet_v2_x0_5", 48},
                                                              {"shufflenet_v2_x1_0", 116},
                                                              {"shufflenet_v2_x1_5", 176},
                                                              {"shufflenet_v2_x2_0", 244}};
  for (const auto& [name, stage2] : archs) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "shufflenet");
    mm::Classifier model = info->build(uninit(10, {{"image_size", 1}}));
    auto* m = dynamic_cast<mm::ShuffleNetV2Impl*>(model.get());
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->options().stages_out_channels()[1], stage2) << name;
  }
  EXPECT_HAS(error_of([] { mm::shufflenet_v2_x1_0(uninit(10, {{"width_mult", 1.0}})); }),
             "shufflenet_v2_x1_0: unknown extra argument 'width_mult' (accepted: image_size)");
}

TEST(ShuffleNetV2, ChannelShuffleInterleavesTheGroups) {
  // Channels [0 1 2 3 4 5] in 2 groups -> [0 3 1 4 2 5].
  const at::Tensor x = at::arange(6, at::kFloat).view({1, 6, 1, 1}).expand({2, 6, 2, 3}).contiguous();
  const at::Tensor y = mm::channel_shuffle(x, 2);
  EXPECT_EQ(y.sizes(), x.sizes());
  const std::vector<float> want = {0, 3, 1, 4, 2, 5};
  for (int64_t c = 0; c < 6; ++c) {
    EXPECT_TRUE(at::equal(y.select(1, c), at::full({2, 2, 3}, want[c]))) << "channel " << c;
  }
  EXPECT_TRUE(at::equal(mm::channel_shuffle(x, 1), x));
  EXPECT_HAS(error_of([&] { mm::channel_shuffle(x, 4); }),
             "C divisible by groups (4), got shape [2, 6, 2, 3]");
  EXPECT_HAS(error_of([] { mm::channel_shuffle(at::zeros({6, 2}), 2); }), "got shape [6, 2]");
}

TEST(ShuffleNetV2, Layout) {
  auto m = mm::shufflenet_v2_x1_0(uninit(10));
  EXPECT_EQ(m->conv1->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{24, 3, 3, 3}));
  EXPECT_EQ((*m->maxpool->options().padding())[0], 1);
  EXPECT_EQ(m->stage2->size(), 4u);
  EXPECT_EQ(m->stage3->size(), 8u);
  EXPECT_EQ(m->stage4->size(), 4u);
  // First unit of a stage: both branches, stride 2.
  auto down = m->stage2->at<mm::ShuffleNetV2InvertedResidualImpl>(0);
  ASSERT_EQ(down->branch1->size(), 5u);
  auto dw = down->branch1->at<mm::Conv2dImpl>(0);
  EXPECT_EQ(dw->weight.sizes(), (at::IntArrayRef{24, 1, 3, 3}));
  EXPECT_EQ((*dw->options().stride())[0], 2);
  EXPECT_EQ(down->branch1->at<mm::Conv2dImpl>(2)->weight.sizes(), (at::IntArrayRef{58, 24, 1, 1}));
  EXPECT_EQ(down->branch2->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{58, 24, 1, 1}));
  // Other units: branch1 is an empty Sequential (no keys), branch2 sees half the channels.
  auto split = m->stage2->at<mm::ShuffleNetV2InvertedResidualImpl>(1);
  EXPECT_EQ(split->branch1->size(), 0u);
  EXPECT_EQ(split->branch2->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{58, 58, 1, 1}));
  EXPECT_EQ(split->branch2->size(), 8u);
  EXPECT_EQ(m->conv5->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{1024, 464, 1, 1}));
  EXPECT_EQ(m->fc->weight.sizes(), (at::IntArrayRef{10, 1024}));
  EXPECT_EQ(mm::shufflenet_v2_x2_0(uninit())->fc->weight.sizes(), (at::IntArrayRef{1000, 2048}));
}

TEST(ShuffleNetV2, UnitForward) {
  at::NoGradGuard no_grad;
  mm::ShuffleNetV2InvertedResidual unit(48, 48, 1, mm::InitPolicy::torch_default());
  unit->eval();
  const at::Tensor x = at::randn({1, 48, 6, 6});
  const at::Tensor y = unit->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  // The pass-through half lands on the even channels after the shuffle.
  EXPECT_TRUE(at::equal(y.slice(1, 0, 48, 2), x.slice(1, 0, 24)));
  mm::ShuffleNetV2InvertedResidual down(24, 48, 2, mm::InitPolicy::torch_default());
  down->eval();
  EXPECT_EQ(down->forward(at::randn({1, 24, 6, 6})).sizes(), (at::IntArrayRef{1, 48, 3, 3}));
  EXPECT_HAS(error_of([] { mm::ShuffleNetV2InvertedResidual(24, 48, 1, mm::InitPolicy::uninitialised()); }),
             "invalid combination of stride 1, inp 24 and oup 48");
  EXPECT_HAS(error_of([] { mm::ShuffleNetV2InvertedResidual(24, 48, 4, mm::InitPolicy::uninitialised()); }),
             "illegal stride 4");
}

TEST(ShuffleNetV2, InitialisesWithTorchDefaults) {
  at::manual_seed(0);
  auto m = mm::shufflenet_v2_x0_5(mm::ArchArgs{});
  // torch.nn's Conv2d default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const at::Tensor w = m->conv5->at<mm::Conv2dImpl>(0)->weight;  // 192 -> 1024, 1x1
  const double bound = 1.0 / std::sqrt(192.0);
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  const double fc_bound = 1.0 / std::sqrt(1024.0);
  EXPECT_LE(m->fc->bias.abs().max().item<double>(), fc_bound);
  EXPECT_GT(m->fc->bias.abs().max().item<double>(), 0.5 * fc_bound);
}

TEST(ShuffleNetV2, ForwardAndBadOptions) {
  auto m = mm::shufflenet_v2_x0_5(mm::ArchArgs{3, true, {}});
  at::NoGradGuard no_grad;
  m->eval();
  EXPECT_EQ(m->forward(at::randn({2, 3, 32, 32})).sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_EQ(m->forward(at::randn({1, 3, 1, 1})).sizes(), (at::IntArrayRef{1, 3})) << "min_size 1x1";
  EXPECT_HAS(error_of([] { mm::ShuffleNetV2(mm::ShuffleNetV2Options({4, 0, 4}, {24, 48, 96, 192, 1024})); }),
             "stages_repeats must be positive, got [4, 0, 4]");
  EXPECT_HAS(error_of([] { mm::ShuffleNetV2(mm::ShuffleNetV2Options({4, 8, 4}, {24, 47, 96, 192, 1024})); }),
             "with even stage channels, got [24, 47, 96, 192, 1024]");
}
