// Swin Transformer v1 / v2: stage layout (alternating shifts, linear
// stochastic depth), any input size (padding to whole windows, odd patch
// merging), torchvision's initialisation, train/eval behaviour and option
// checks. Key layout and numeric parity with torchvision are checked by
// models_test.cpp (goldens) and parity_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/swin_transformer.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

// Two stages of two blocks, width 16, 4 x 4 windows.
mm::SwinTransformer small_swin(bool v2, double sd_prob = 0.0) {
  return mm::SwinTransformer(mm::SwinTransformerOptions({4, 4}, 16, {2, 2}, {2, 4}, {4, 4})
                                 .stochastic_depth_prob(sd_prob)
                                 .num_classes(5)
                                 .v2(v2));
}

std::shared_ptr<mm::SwinTransformerBlockImpl> swin_block(const mm::SwinTransformer& m, std::size_t stage,
                                                         std::size_t i) {
  return m->features->at<mm::SequentialImpl>(2 * stage + 1)->at<mm::SwinTransformerBlockImpl>(i);
}

}  // namespace

TEST(SwinTransformer, StagesShiftEveryOtherBlockAndDeepenStochasticDepth) {
  auto t = mm::swin_t(uninit());
  // patch embedding, stage, merge, stage, merge, stage, merge, stage
  ASSERT_EQ(t->features->size(), 8u);
  EXPECT_NE(t->features->at<mm::PatchMergingImpl>(2), nullptr);
  const std::vector<int64_t> depths = {2, 2, 6, 2};
  int block_id = 0;
  for (std::size_t s = 0; s < depths.size(); ++s) {
    auto stage = t->features->at<mm::SequentialImpl>(2 * s + 1);
    ASSERT_EQ(stage->size(), static_cast<std::size_t>(depths[s]));
    for (std::size_t i = 0; i < stage->size(); ++i, ++block_id) {
      const auto& o = stage->at<mm::SwinTransformerBlockImpl>(i)->options();
      EXPECT_EQ(o.dim(), 96 << s);
      EXPECT_EQ(o.shift_size(), (i % 2 ? std::vector<int64_t>{3, 3} : std::vector<int64_t>{0, 0}));
      EXPECT_EQ(o.window_size(), (std::vector<int64_t>{7, 7}));
      EXPECT_DOUBLE_EQ(o.stochastic_depth_prob(), 0.2 * block_id / 11.0);
      EXPECT_FALSE(o.v2());
    }
  }
  auto v2b = mm::swin_v2_b(uninit());
  const auto& last = swin_block(v2b, 3, 1)->options();
  EXPECT_TRUE(last.v2());
  EXPECT_EQ(last.shift_size(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(last.num_heads(), 32);
  EXPECT_DOUBLE_EQ(last.stochastic_depth_prob(), 0.5);
  EXPECT_EQ(v2b->head->weight.sizes(), (at::IntArrayRef{1000, 1024}));
  // The catalog builds the same, and accepts the pretrained path's image_size.
  mm::Classifier any = mm::build_architecture("swin_v2_s", uninit({{"image_size", 256}}));
  ASSERT_NE(dynamic_cast<mm::SwinTransformerImpl*>(any.get()), nullptr);
}

TEST(SwinTransformer, AnyInputSizeWorks) {
  at::manual_seed(0);
  at::NoGradGuard no_grad;
  for (bool v2 : {false, true}) {
    auto m = small_swin(v2);
    m->eval();
    // 32: whole windows; 20 x 28: padded windows and odd patch merging; 4: one patch.
    for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{32, 32}, {20, 28}, {4, 4}, {36, 12}}) {
      const at::Tensor y = m->forward(at::randn({2, 3, h, w}));
      EXPECT_EQ(y.sizes(), (at::IntArrayRef{2, 5})) << h << "x" << w << " v2=" << v2;
      EXPECT_TRUE(y.isfinite().all().item<bool>()) << h << "x" << w << " v2=" << v2;
    }
  }
}

TEST(SwinTransformer, WindowAttentionKeepsShapeAndMixesOnlyWithinWindows) {
  at::manual_seed(0);
  at::NoGradGuard no_grad;
  // Unshifted: a change in one window leaves the other windows' outputs alone.
  mm::ShiftedWindowAttention attn(mm::ShiftedWindowAttentionOptions(8, {4, 4}, {0, 0}, 2),
                                  mm::InitPolicy::torch_default());
  attn->relative_position_bias_table.normal_(0, 0.02);
  at::Tensor x = at::randn({1, 8, 8, 8});
  const at::Tensor y = attn->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  at::Tensor x2 = x.clone();
  x2.index_put_({0, 0, 0}, at::randn({8}));  // top-left window only
  const at::Tensor y2 = attn->forward(x2);
  using at::indexing::Slice;
  EXPECT_FALSE(at::equal(y2.index({0, Slice(0, 4), Slice(0, 4)}), y.index({0, Slice(0, 4), Slice(0, 4)})));
  EXPECT_TRUE(at::equal(y2.index({0, Slice(4, 8)}), y.index({0, Slice(4, 8)})));
  EXPECT_TRUE(at::equal(y2.index({0, Slice(0, 4), Slice(4, 8)}), y.index({0, Slice(0, 4), Slice(4, 8)})));
  // Shifted by 2: the top-left pixel now shares a window with the bottom-right
  // corner pixels after the cyclic shift, but the mask keeps them apart, so
  // the far corner is unaffected while its neighbourhood in the shifted grid is.
  mm::ShiftedWindowAttention shifted(mm::ShiftedWindowAttentionOptions(8, {4, 4}, {2, 2}, 2),
                                     mm::InitPolicy::torch_default());
  const at::Tensor s1 = shifted->forward(x), s2 = shifted->forward(x2);
  EXPECT_TRUE(at::equal(s1.index({0, 7, 7}), s2.index({0, 7, 7})));
  EXPECT_FALSE(at::equal(s1.index({0, 1, 1}), s2.index({0, 1, 1})));
  const std::string msg = error_of([&] { shifted->forward(at::randn({1, 8, 8, 6})); });
  EXPECT_NE(msg.find("ShiftedWindowAttention(dim=8): expected input of shape [B, H, W, 8], got [1, 8, 8, 6]"),
            std::string::npos)
      << msg;
}

TEST(SwinTransformer, PatchMergingHalvesWithPadding) {
  at::NoGradGuard no_grad;
  mm::PatchMerging v1(6, false, 1e-5, mm::InitPolicy::torch_default());
  mm::PatchMerging v2(6, true, 1e-5, mm::InitPolicy::torch_default());
  EXPECT_EQ(v1->norm->weight.sizes(), (at::IntArrayRef{24}));
  EXPECT_EQ(v2->norm->weight.sizes(), (at::IntArrayRef{12}));
  EXPECT_FALSE(v1->reduction->bias.defined());
  const at::Tensor x = at::randn({2, 5, 7, 6});
  EXPECT_EQ(v1->forward(x).sizes(), (at::IntArrayRef{2, 3, 4, 12}));
  EXPECT_EQ(v2->forward(x).sizes(), (at::IntArrayRef{2, 3, 4, 12}));
  // The 2 x 2 neighbourhood order is (0,0), (1,0), (0,1), (1,1): with an
  // identity-like reduction picking each quarter, the outputs are those pixels.
  v1->norm->weight.fill_(1);
  v1->norm->bias.zero_();
  const at::Tensor plain = at::arange(4 * 6, at::kFloat).reshape({1, 2, 2, 6});
  const at::Tensor merged_norm = at::layer_norm(
      at::cat({plain.index({0, 0, 0}), plain.index({0, 1, 0}), plain.index({0, 0, 1}), plain.index({0, 1, 1})}),
      {24}, {}, {}, 1e-5);
  v1->reduction->weight.zero_();
  for (int64_t i = 0; i < 12; ++i) v1->reduction->weight.index_put_({i, 2 * i}, 1.0);
  const at::Tensor out = v1->forward(plain);
  EXPECT_TRUE(at::allclose(out.flatten(), merged_norm.index({at::indexing::Slice(0, 24, 2)})));
}

TEST(SwinTransformer, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto t = mm::SwinTransformer(mm::SwinTransformerOptions({4, 4}, 32, {2, 2}, {2, 4}, {7, 7}));
  auto b = swin_block(t, 1, 1);
  // Every Linear: trunc_normal_(std=0.02), zero bias (the MLP's own init is overridden).
  EXPECT_NEAR(b->attn->qkv->weight.std().item<double>(), 0.02, 0.001);
  EXPECT_TRUE(at::equal(b->attn->qkv->bias, at::zeros({192})));
  EXPECT_NEAR(b->mlp->at<mm::LinearImpl>(0)->weight.std().item<double>(), 0.02, 0.001);
  EXPECT_TRUE(at::equal(b->mlp->at<mm::LinearImpl>(3)->bias, at::zeros({64})));
  EXPECT_TRUE(at::equal(t->head->bias, at::zeros({1000})));
  EXPECT_NEAR(t->head->weight.std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(b->attn->relative_position_bias_table.std().item<double>(), 0.02, 0.003);
  EXPECT_EQ(b->attn->relative_position_bias_table.sizes(), (at::IntArrayRef{169, 4}));
  EXPECT_EQ(b->attn->relative_position_index.sizes(), (at::IntArrayRef{49 * 49}));
  EXPECT_EQ(b->attn->relative_position_index.scalar_type(), at::kLong);
  EXPECT_EQ(b->attn->relative_position_index.max().item<int64_t>(), 168);
  EXPECT_DOUBLE_EQ(b->norm1->options().eps(), 1e-5);

  auto v2 = small_swin(true);
  auto a2 = swin_block(v2, 0, 1)->attn;
  EXPECT_TRUE(at::allclose(a2->logit_scale, at::full({2, 1, 1}, std::log(10.0))));
  EXPECT_EQ(a2->relative_coords_table.sizes(), (at::IntArrayRef{1, 7, 7, 2}));
  // log-spaced coordinates: sign(8 t) log2(|8 t| + 1) / 3 with t in [-1, 1].
  EXPECT_NEAR(a2->relative_coords_table.max().item<double>(), std::log2(9.0) / 3.0, 1e-6);
  EXPECT_FALSE(a2->cpb_mlp->at<mm::LinearImpl>(2)->bias.defined());
  EXPECT_FALSE(a2->relative_position_bias_table.defined());
  // The v2 bias is 16 * sigmoid(cpb_mlp(table)): within (0, 16).
  at::NoGradGuard no_grad;
  const at::Tensor bias = a2->relative_position_bias();
  EXPECT_EQ(bias.sizes(), (at::IntArrayRef{1, 2, 16, 16}));
  EXPECT_GT(bias.min().item<double>(), 0.0);
  EXPECT_LT(bias.max().item<double>(), 16.0);
}

TEST(SwinTransformer, StochasticDepthOnlyInTraining) {
  at::manual_seed(2);
  auto m = small_swin(false, 0.5);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({4, 3, 16, 16});
  m->eval();
  const at::Tensor a = m->forward(x);
  EXPECT_TRUE(at::equal(a, m->forward(x)));
  m->train();
  bool differs = false;
  for (int i = 0; i < 5 && !differs; ++i) differs = !at::equal(m->forward(x), a);
  EXPECT_TRUE(differs) << "training mode drops residual branches at random";
  EXPECT_DOUBLE_EQ(swin_block(m, 1, 1)->stochastic_depth->p(), 0.5);
}

TEST(SwinTransformer, BadOptionsAreRefused) {
  std::string msg = error_of([] {
    mm::SwinTransformer(mm::SwinTransformerOptions({4, 4}, 16, {2, 2}, {2}, {4, 4}));
  });
  EXPECT_NE(msg.find("depths and num_heads must be non-empty lists of the same length, got [2, 2] and [2]"),
            std::string::npos)
      << msg;
  msg = error_of([] { mm::SwinTransformer(mm::SwinTransformerOptions({4, 4}, 16, {2}, {2}, {4})); });
  EXPECT_NE(msg.find("window_size must hold two positive integers, got [4]"), std::string::npos) << msg;
  msg = error_of([] { mm::SwinTransformer(mm::SwinTransformerOptions({4, 4}, 16, {2}, {3}, {4, 4})); });
  EXPECT_NE(msg.find("dim (16) must be divisible by num_heads (3)"), std::string::npos) << msg;
  msg = error_of([] {
    mm::ShiftedWindowAttention(mm::ShiftedWindowAttentionOptions(8, {1, 4}, {0, 0}, 2).v2(true),
                               mm::InitPolicy::uninitialised());
  });
  EXPECT_NE(msg.find("window_size must be at least 2 x 2"), std::string::npos) << msg;
  msg = error_of([] { mm::swin_t(uninit({{"window_size", 8}})); });
  EXPECT_NE(msg.find("swin_t: unknown extra argument 'window_size'"), std::string::npos) << msg;
  msg = error_of([] { mm::swin_s(uninit({{"stochastic_depth_prob", 2}})); });
  EXPECT_NE(msg.find("stochastic_depth_prob must be in [0, 1], got 2"), std::string::npos) << msg;

  auto m = small_swin(false);
  msg = error_of([&] { m->forward(at::randn({1, 3, 3, 16})); });
  EXPECT_NE(msg.find("expected input of shape [N, 3, H, W] with H >= 4 and W >= 4, got [1, 3, 3, 16]"),
            std::string::npos)
      << msg;
  msg = error_of([&] { m->forward(at::randn({1, 4, 16, 16})); });
  EXPECT_NE(msg.find("got [1, 4, 16, 16]"), std::string::npos) << msg;
}
