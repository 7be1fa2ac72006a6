// Inception v3: structure, the auxiliary head, initialisation, builder
// arguments and numeric parity with torchvision with transform_input on and
// the aux head off. The state_dict layout (with AuxLogits, torchvision's
// default) is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/inception.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

}  // namespace

TEST(Inception, CatalogEntry) {
  const mm::ArchInfo* info = mm::find_architecture("inception_v3");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->family, "inception");
  // torchvision's inception_v3 builder keeps AuxLogits unless aux_logits=False.
  EXPECT_EQ(info->pretrained_extra, nlohmann::json({{"transform_input", true}}));
  auto with_aux = mm::inception_v3(uninit());
  auto without = mm::inception_v3(uninit(1000, {{"aux_logits", false}}));
  std::set<std::string> kept;
  for (const auto& item : modelzoo::state_dict::state_dict(*without)) kept.insert(item.key());
  std::size_t dropped = 0;
  for (const auto& item : modelzoo::state_dict::state_dict(*with_aux)) {
    bool ignorable = false;
    for (const auto& p : info->ignored_keys) ignorable = ignorable || std::regex_match(item.key(), std::regex(p));
    EXPECT_EQ(ignorable, kept.count(item.key()) == 0) << item.key();
    dropped += kept.count(item.key()) == 0 ? 1 : 0;
  }
  EXPECT_EQ(dropped, 2u * 6 + 2);  // conv0, conv1 (weight + 5 BN tensors each), fc weight + bias
}

TEST(Inception, Layout) {
  auto m = mm::inception_v3(uninit(10));
  EXPECT_EQ(m->Conv2d_1a_3x3->conv->weight.sizes(), (at::IntArrayRef{32, 3, 3, 3}));
  EXPECT_DOUBLE_EQ(m->Conv2d_1a_3x3->bn->options().eps(), 0.001);
  EXPECT_EQ(m->Mixed_5b->branch_pool->conv->weight.sizes(), (at::IntArrayRef{32, 192, 1, 1}));
  EXPECT_EQ(m->Mixed_6b->branch7x7_2->conv->weight.sizes(), (at::IntArrayRef{128, 128, 1, 7}));
  EXPECT_EQ((*m->Mixed_6b->branch7x7_2->conv->options().padding())[1], 3);
  EXPECT_EQ(m->Mixed_6e->branch7x7dbl_2->conv->weight.sizes(), (at::IntArrayRef{192, 192, 7, 1}));
  EXPECT_EQ(m->Mixed_7c->branch3x3dbl_3b->conv->weight.sizes(), (at::IntArrayRef{384, 384, 3, 1}));
  ASSERT_TRUE(m->AuxLogits);
  EXPECT_EQ(m->AuxLogits->conv1->conv->weight.sizes(), (at::IntArrayRef{768, 128, 5, 5}));
  EXPECT_EQ(m->AuxLogits->fc->weight.sizes(), (at::IntArrayRef{10, 768}));
  EXPECT_EQ(m->fc->weight.sizes(), (at::IntArrayRef{10, 2048}));
  EXPECT_DOUBLE_EQ(m->dropout->p(), 0.5);
  // Children in torchvision's order: AuxLogits between Mixed_6e and Mixed_7a.
  const auto names = m->named_children().keys();
  const auto at_ = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_EQ(at_("AuxLogits"), at_("Mixed_6e") + 1);
  EXPECT_EQ(at_("Mixed_7a"), at_("AuxLogits") + 1);
  EXPECT_FALSE(mm::inception_v3(uninit(10, {{"aux_logits", false}}))->AuxLogits);
}

TEST(Inception, ForwardAndAuxHead) {
  // Constant weights: cheaper than drawing 27M random values, enough for shapes.
  auto m = mm::inception_v3(uninit(6));
  at::NoGradGuard no_grad;
  for (auto& p : m->parameters()) p.fill_(0.01);
  m->eval();
  const at::Tensor x = at::randn({1, 3, 75, 75});  // torchvision's min_size
  const auto out = m->forward_with_aux(x);
  EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{1, 6}));
  EXPECT_FALSE(out.aux_logits.defined());
  EXPECT_TRUE(at::equal(m->forward(x), out.logits));
  // The aux head sees Mixed_6e's 17 x 17 x 768 map at 299 x 299 input.
  EXPECT_EQ(m->AuxLogits->forward(at::randn({2, 768, 17, 17})).sizes(), (at::IntArrayRef{2, 6}));
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 1, 75, 75})); }), "expected 3 input channels");
}

TEST(Inception, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::inception_v3(mm::ArchArgs{});
  // trunc_normal_(std=0.1, a=-2, b=2): the truncation at +-2 (20 sigma) is inactive.
  EXPECT_NEAR(m->Mixed_7c->branch3x3dbl_2->conv->weight.std().item<double>(), 0.1, 0.002);
  EXPECT_NEAR(m->fc->weight.std().item<double>(), 0.1, 0.002);
  // AuxLogits.fc has stddev 0.001; AuxLogits.conv1's 0.01 sits on the
  // BasicConv2d wrapper, so its Conv2d gets 0.1 like the rest (torchvision quirk).
  EXPECT_NEAR(m->AuxLogits->fc->weight.std().item<double>(), 0.001, 0.00003);
  EXPECT_NEAR(m->AuxLogits->conv1->conv->weight.std().item<double>(), 0.1, 0.002);
  EXPECT_LE(m->fc->bias.abs().max().item<double>(), 1.0 / std::sqrt(2048.0));
  EXPECT_TRUE(at::equal(m->Mixed_5b->branch1x1->bn->weight, at::ones({64})));
}

TEST(Inception, BadArgumentsAreRefused) {
  EXPECT_HAS(error_of([] { mm::inception_v3(uninit(10, {{"transform_input", 1}})); }),
             "inception_v3: extra argument 'transform_input' must be true or false, got 1");
  EXPECT_HAS(error_of([] { mm::inception_v3(uninit(10, {{"dropout_aux", 0.1}})); }),
             "inception_v3: unknown extra argument 'dropout_aux'");
  EXPECT_HAS(error_of([] { mm::inception_v3(uninit(10, {{"dropout", -1}})); }),
             "dropout must be in [0, 1], got -1");
}

TEST(Inception, ParityWithTransformInputAndNoAuxHead) {
  const nlohmann::json kwargs = {{"transform_input", true}, {"aux_logits", false}, {"init_weights", false}};
  EXPECT_LE(mz_test::parity("inception_v3", 75, kwargs), 1e-4);
}
