// MaxViT: input size validation, block layout (strided first layers, pooled
// shortcuts, linear stochastic depth), BatchNorm settings, torchvision's
// initialisation, window/grid partitioning and option checks. Key layout and
// numeric parity with torchvision are checked by models_test.cpp (goldens)
// and parity_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/maxvit.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

std::shared_ptr<mm::MaxVitLayerImpl> maxvit_layer(const mm::MaxVit& m, std::size_t block, std::size_t layer) {
  return m->blocks->at<mm::MaxVitBlockImpl>(block)->layers->at<mm::MaxVitLayerImpl>(layer);
}

}  // namespace

TEST(MaxVit, BlocksHalveTheGridAndDeepenStochasticDepth) {
  auto m = mm::maxvit_t(uninit());
  ASSERT_EQ(m->blocks->size(), 4u);
  const std::vector<int64_t> grids = {56, 28, 14, 7}, layers = {2, 2, 5, 2}, widths = {64, 128, 256, 512};
  int index = 0;
  for (std::size_t b = 0; b < 4; ++b) {
    auto block = m->blocks->at<mm::MaxVitBlockImpl>(b);
    EXPECT_EQ(block->grid_size(), (mm::MaxVitSize{grids[b], grids[b]}));
    ASSERT_EQ(block->layers->size(), static_cast<std::size_t>(layers[b]));
    for (std::size_t i = 0; i < block->layers->size(); ++i, ++index) {
      auto layer = maxvit_layer(m, b, i);
      auto mb = layer->layers->at<mm::MaxVitMBConvImpl>(0);
      auto window = layer->layers->at<mm::PartitionAttentionLayerImpl>(1);
      auto grid = layer->layers->at<mm::PartitionAttentionLayerImpl>(2);
      EXPECT_EQ(mb->options().stride(), i == 0 ? 2 : 1);
      EXPECT_EQ(mb->options().out_channels(), widths[b]);
      EXPECT_EQ(window->options().partition_type(), "window");
      EXPECT_EQ(grid->options().partition_type(), "grid");
      EXPECT_EQ(grid->options().grid_size(), (mm::MaxVitSize{grids[b], grids[b]}));
      // np.linspace(0, 0.2, 11)
      const double p = 0.2 * index / 10.0;
      EXPECT_NEAR(window->stochastic_dropout->p(), p, 1e-15);
      EXPECT_NEAR(mb->options().p_stochastic_dropout(), p, 1e-15);
      // The first MaxVitMBConv (p = 0) has an Identity where the others have StochasticDepth.
      EXPECT_EQ(mb->stochastic_depth->name(), index == 0 ? "Identity" : "StochasticDepth");
      // Strided layers shortcut through AvgPool2d(3, 2, 1) + 1x1 Conv2d.
      if (i == 0) {
        auto proj = std::dynamic_pointer_cast<mm::SequentialImpl>(mb->proj);
        ASSERT_NE(proj, nullptr);
        EXPECT_NE(proj->at<mm::AvgPool2dImpl>(0), nullptr);
        EXPECT_NE(proj->at<mm::Conv2dImpl>(1), nullptr);
      } else {
        EXPECT_EQ(mb->proj->name(), "Identity");
      }
    }
  }
  EXPECT_DOUBLE_EQ(maxvit_layer(m, 3, 1)->layers->at<mm::PartitionAttentionLayerImpl>(1)->stochastic_dropout->p(),
                   0.2);
  // MaxVitMBConv widths: expansion 4, squeeze 0.25 of the output channels.
  auto mb = maxvit_layer(m, 1, 1)->layers->at<mm::MaxVitMBConvImpl>(0);
  auto se = mb->layers->at<mm::SqueezeExcitationImpl>(3);
  EXPECT_EQ(se->fc1->weight.sizes(), (at::IntArrayRef{32, 512, 1, 1}));
  auto conv_b = mb->layers->at<mm::Conv2dNormActivationImpl>(2);
  EXPECT_EQ(conv_b->conv->options().groups(), 512);
  EXPECT_FALSE(conv_b->conv->bias.defined());
  // BatchNorm eps 1e-3, momentum 0.99; attention LayerNorm eps 1e-5.
  auto pre_norm = mb->layers->at<mm::BatchNorm2dImpl>(0);
  EXPECT_DOUBLE_EQ(pre_norm->options().eps(), 1e-3);
  EXPECT_DOUBLE_EQ(pre_norm->options().momentum().value(), 0.99);
  auto stem_bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(m->stem->at<mm::Conv2dNormActivationImpl>(0)->norm);
  ASSERT_NE(stem_bn, nullptr);
  EXPECT_DOUBLE_EQ(stem_bn->options().eps(), 1e-3);
  EXPECT_DOUBLE_EQ(
      maxvit_layer(m, 0, 0)->layers->at<mm::PartitionAttentionLayerImpl>(2)->attn_layer->at<mm::LayerNormImpl>(0)
          ->options().eps(),
      1e-5);
  EXPECT_FALSE(m->classifier->at<mm::LinearImpl>(5)->bias.defined());
}

TEST(MaxVit, InputSizeMustSplitIntoPartitions) {
  // 112: the last block's input is 4 x 4, not divisible by the partition size 7.
  std::string msg = error_of([] { mm::maxvit_t(uninit({{"image_size", 112}})); });
  EXPECT_NE(msg.find("input size (4, 4) of block 3 is not divisible by partition size 7"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("block input sizes [(28, 28), (14, 14), (7, 7), (4, 4)]"), std::string::npos) << msg;
  // 448 works; input_size [h, w] wins over image_size (the registry gives both).
  auto big = mm::maxvit_t(uninit({{"image_size", 224}, {"input_size", {448, 448}}}));
  EXPECT_EQ(big->options().input_size(), (mm::MaxVitSize{448, 448}));
  EXPECT_EQ(big->blocks->at<mm::MaxVitBlockImpl>(3)->grid_size(), (mm::MaxVitSize{14, 14}));
  msg = error_of([] { mm::maxvit_t(uninit({{"input_size", {224}}})); });
  EXPECT_NE(msg.find("maxvit_t: extra argument 'input_size' must be [height, width], got [224]"),
            std::string::npos)
      << msg;
  msg = error_of([] { mm::maxvit_t(uninit({{"image_size", -224}})); });
  EXPECT_NE(msg.find("'image_size' must hold positive integers, got -224"), std::string::npos) << msg;
  msg = error_of([] { mm::maxvit_t(uninit({{"head_dim", 64}})); });
  EXPECT_NE(msg.find("maxvit_t: unknown extra argument 'head_dim'"), std::string::npos) << msg;
  // The built-in size is enforced at run time.
  auto m = mm::maxvit_t(uninit());
  msg = error_of([&] { m->forward(at::zeros({1, 3, 192, 192})); });
  EXPECT_NE(msg.find("MaxVit: expected input of shape [N, 3, 224, 224] (the input_size it was built for), got "
                     "[1, 3, 192, 192]"),
            std::string::npos)
      << msg;
}

TEST(MaxVit, PartitionAttentionWindowAndGrid) {
  at::manual_seed(0);
  at::NoGradGuard no_grad;
  const mm::InitPolicy init = mm::InitPolicy::torch_default();
  // A 4 x 4 map with partition 2: windows are 2 x 2 blocks, the grid pairs
  // pixels two apart.
  mm::PartitionAttentionLayer window(mm::PartitionAttentionOptions(8, 4, 2, "window", {4, 4}), init);
  mm::PartitionAttentionLayer grid(mm::PartitionAttentionOptions(8, 4, 2, "grid", {4, 4}), init);
  const at::Tensor x = at::randn({1, 8, 4, 4});
  at::Tensor x2 = x.clone();
  x2.index_put_({0, at::indexing::Slice(), 0, 0}, at::randn({8}));
  auto changed = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).abs().sum(1).squeeze(0) > 0;  // [4, 4] of pixels whose output moved
  };
  const at::Tensor w = changed(window->forward(x), window->forward(x2));
  const at::Tensor g = changed(grid->forward(x), grid->forward(x2));
  // Window: pixel (0,0) interacts with its own 2 x 2 block only.
  const at::Tensor want_w = at::zeros({4, 4}, at::kBool).index_put_({at::indexing::Slice(0, 2), at::indexing::Slice(0, 2)}, true);
  EXPECT_TRUE(at::equal(w, want_w)) << w;
  // Grid: pixel (0,0) interacts with (0,2), (2,0), (2,2).
  at::Tensor want_g = at::zeros({4, 4}, at::kBool);
  for (int64_t i : {0, 2}) {
    for (int64_t j : {0, 2}) want_g.index_put_({i, j}, true);
  }
  EXPECT_TRUE(at::equal(g, want_g)) << g;

  std::string msg = error_of([&] { grid->forward(at::randn({1, 8, 6, 6})); });
  EXPECT_NE(msg.find("PartitionAttentionLayer (grid): expected input of shape [B, 8, 4, 4], got [1, 8, 6, 6]"),
            std::string::npos)
      << msg;
  msg = error_of([&] { mm::PartitionAttentionLayer(mm::PartitionAttentionOptions(8, 4, 2, "diagonal", {4, 4}), init); });
  EXPECT_NE(msg.find("partition_type must be either 'grid' or 'window', got 'diagonal'"), std::string::npos) << msg;
  msg = error_of([&] { mm::PartitionAttentionLayer(mm::PartitionAttentionOptions(8, 4, 3, "window", {4, 4}), init); });
  EXPECT_NE(msg.find("grid size must be divisible by partition size. Got grid size of (4, 4) and partition size of 3"),
            std::string::npos)
      << msg;
  msg = error_of([&] { mm::RelativePositionalMultiHeadAttention(8, 3, 4, init); });
  EXPECT_NE(msg.find("feat_dim: 8 must be divisible by head_dim: 3"), std::string::npos) << msg;
}

TEST(MaxVit, RelativePositionBias) {
  at::manual_seed(0);
  mm::RelativePositionalMultiHeadAttention attn(16, 8, 9, mm::InitPolicy::torch_default());
  // 3 x 3 partitions: 5 x 5 relative offsets, 2 heads.
  EXPECT_EQ(attn->relative_position_bias_table.sizes(), (at::IntArrayRef{25, 2}));
  EXPECT_EQ(attn->relative_position_index.sizes(), (at::IntArrayRef{9, 9}));
  // Zero offset (the diagonal) is the table's centre row; the index is antisymmetric about it.
  EXPECT_TRUE(at::equal(attn->relative_position_index.diagonal(), at::full({9}, 12, at::kLong)));
  EXPECT_TRUE(at::equal(attn->relative_position_index + attn->relative_position_index.t(), at::full({9, 9}, 24, at::kLong)));
  at::NoGradGuard no_grad;
  const at::Tensor bias = attn->relative_positional_bias();
  EXPECT_EQ(bias.sizes(), (at::IntArrayRef{1, 2, 9, 9}));
  EXPECT_TRUE(at::equal(bias[0][1][4][4], attn->relative_position_bias_table[12][1]));
  EXPECT_EQ(attn->forward(at::randn({2, 3, 9, 16})).sizes(), (at::IntArrayRef{2, 3, 9, 16}));
}

TEST(MaxVit, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::maxvit_t();
  // Conv2d and Linear: normal_(std=0.02), zero bias.
  auto stem_conv = m->stem->at<mm::Conv2dNormActivationImpl>(1)->conv;
  EXPECT_NEAR(stem_conv->weight.std().item<double>(), 0.02, 0.001);
  EXPECT_TRUE(at::equal(stem_conv->bias, at::zeros({64})));
  auto layer = maxvit_layer(m, 2, 3);
  auto attn = layer->layers->at<mm::PartitionAttentionLayerImpl>(1)
                  ->attn_layer->at<mm::RelativePositionalMultiHeadAttentionImpl>(1);
  EXPECT_NEAR(attn->to_qkv->weight.std().item<double>(), 0.02, 0.001);
  EXPECT_TRUE(at::equal(attn->merge->bias, at::zeros({256})));
  EXPECT_NEAR(attn->relative_position_bias_table.std().item<double>(), 0.02, 0.002);
  auto se = layer->layers->at<mm::MaxVitMBConvImpl>(0)->layers->at<mm::SqueezeExcitationImpl>(3);
  EXPECT_TRUE(at::equal(se->fc2->bias, at::zeros({1024})));
  auto bn = layer->layers->at<mm::MaxVitMBConvImpl>(0)->layers->at<mm::BatchNorm2dImpl>(0);
  EXPECT_TRUE(at::equal(bn->weight, at::ones({256})));
  EXPECT_NEAR(m->classifier->at<mm::LinearImpl>(5)->weight.std().item<double>(), 0.02, 0.001);
}
