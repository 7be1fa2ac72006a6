// GoogLeNet: structure, auxiliary heads, transform_input, initialisation,
// builder arguments and numeric parity with torchvision as the pretrained
// builder configures it (transform_input on, aux heads off). The state_dict
// layout (with aux heads, torchvision's default) is checked against its
// golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/googlenet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

std::set<std::string> keys_of(const torch::nn::Module& m) {
  std::set<std::string> keys;
  for (const auto& item : modelzoo::state_dict::state_dict(m)) keys.insert(item.key());
  return keys;
}

bool matches_any(const std::string& key, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (std::regex_match(key, std::regex(p))) return true;
  }
  return false;
}

}  // namespace

TEST(GoogLeNet, CatalogEntryDropsAuxHeadsForPretrainedWeights) {
  const mm::ArchInfo* info = mm::find_architecture("googlenet");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->family, "googlenet");
  EXPECT_EQ(info->pretrained_extra, nlohmann::json({{"transform_input", true}, {"aux_logits", false}}));

  // The ignorable keys are exactly the aux heads: what a file written with
  // aux_logits=True holds beyond a model built without them.
  auto with_aux = mm::googlenet(uninit());
  mm::Classifier without = info->build(uninit(1000, info->pretrained_extra));
  const auto all = keys_of(*with_aux), kept = keys_of(*without);
  std::size_t extra = 0;
  for (const auto& k : all) {
    if (kept.count(k) != 0) {
      EXPECT_FALSE(matches_any(k, info->ignored_keys)) << k << " must not be ignorable";
    } else {
      ++extra;
      EXPECT_TRUE(matches_any(k, info->ignored_keys)) << k << " is not covered by ignored_keys";
      EXPECT_TRUE(k.rfind("aux1.", 0) == 0 || k.rfind("aux2.", 0) == 0) << k;
    }
  }
  EXPECT_EQ(extra, 2u * (6 + 4));  // per head: conv.weight, 5 BN tensors, fc1 and fc2 weight + bias
  for (const auto& k : kept) EXPECT_EQ(all.count(k), 1u) << k;
}

TEST(GoogLeNet, Layout) {
  auto m = mm::googlenet(uninit(10));
  EXPECT_EQ(m->conv1->conv->weight.sizes(), (at::IntArrayRef{64, 3, 7, 7}));
  EXPECT_FALSE(m->conv1->conv->bias.defined());
  EXPECT_DOUBLE_EQ(m->conv1->bn->options().eps(), 0.001);
  EXPECT_TRUE(m->maxpool1->options().ceil_mode());
  // Inception 3a: 64 + 128 + 32 + 32 = 256 channels; branch3 uses a 3x3 kernel as torchvision.
  EXPECT_EQ(m->inception3a->branch3->at<mm::BasicConv2dImpl>(1)->conv->weight.sizes(),
            (at::IntArrayRef{32, 16, 3, 3}));
  auto pool = m->inception3a->branch4->at<mm::MaxPool2dImpl>(0);
  EXPECT_EQ((*pool->options().stride())[0], 1);
  EXPECT_TRUE(pool->options().ceil_mode());
  ASSERT_TRUE(m->aux1);
  EXPECT_EQ(m->aux1->conv->conv->weight.sizes(), (at::IntArrayRef{128, 512, 1, 1}));
  EXPECT_EQ(m->aux2->conv->conv->weight.sizes(), (at::IntArrayRef{128, 528, 1, 1}));
  EXPECT_EQ(m->aux2->fc2->weight.sizes(), (at::IntArrayRef{10, 1024}));
  EXPECT_DOUBLE_EQ(m->aux1->dropout->p(), 0.7);
  EXPECT_DOUBLE_EQ(m->dropout->p(), 0.2);
  EXPECT_EQ(m->fc->weight.sizes(), (at::IntArrayRef{10, 1024}));

  auto plain = mm::googlenet(uninit(10, {{"aux_logits", false}, {"dropout", 0.4}, {"dropout_aux", 0.5}}));
  EXPECT_FALSE(plain->aux1);
  EXPECT_FALSE(plain->aux2);
  EXPECT_EQ(plain->named_children().size(), m->named_children().size() - 2);
  EXPECT_DOUBLE_EQ(plain->dropout->p(), 0.4);
  EXPECT_DOUBLE_EQ(mm::googlenet(uninit(10, {{"dropout_aux", 0.5}}))->aux2->dropout->p(), 0.5);
}

TEST(GoogLeNet, ForwardReturnsLogitsAndAuxOnlyWhenTraining) {
  auto m = mm::googlenet(mm::ArchArgs{7, true, {}});
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 64, 64});
  m->eval();
  const auto eval_out = m->forward_with_aux(x);
  EXPECT_EQ(eval_out.logits.sizes(), (at::IntArrayRef{2, 7}));
  EXPECT_FALSE(eval_out.aux_logits1.defined());
  EXPECT_FALSE(eval_out.aux_logits2.defined());
  EXPECT_TRUE(at::equal(m->forward(x), eval_out.logits));
  EXPECT_EQ(m->forward(at::randn({1, 3, 15, 15})).sizes(), (at::IntArrayRef{1, 7})) << "min_size 15";

  m->train();
  const auto train_out = m->forward_with_aux(x);
  EXPECT_EQ(train_out.logits.sizes(), (at::IntArrayRef{2, 7}));
  ASSERT_TRUE(train_out.aux_logits1.defined());
  EXPECT_EQ(train_out.aux_logits1.sizes(), (at::IntArrayRef{2, 7}));
  EXPECT_EQ(train_out.aux_logits2.sizes(), (at::IntArrayRef{2, 7}));
  EXPECT_EQ(m->forward(x).sizes(), (at::IntArrayRef{2, 7}));

  auto plain = mm::googlenet(mm::ArchArgs{7, true, {{"aux_logits", false}}});
  plain->train();
  EXPECT_FALSE(plain->forward_with_aux(x).aux_logits1.defined());
}

TEST(GoogLeNet, TransformInputMapsImageNetNormalisationToHalfScale) {
  // x * std / 0.5 + (mean - 0.5) / 0.5 per channel: the image value v, normalised
  // with ImageNet's mean/std, becomes (v - 0.5) / 0.5.
  const at::Tensor image = at::rand({2, 3, 5, 4}, at::kDouble);
  const at::Tensor mean = at::tensor({0.485, 0.456, 0.406}).view({1, 3, 1, 1});
  const at::Tensor stdev = at::tensor({0.229, 0.224, 0.225}).view({1, 3, 1, 1});
  const at::Tensor normalised = (image - mean) / stdev;
  const at::Tensor out = mm::inception_transform_input(normalised);
  EXPECT_TRUE(at::allclose(out, (image - 0.5) / 0.5, 1e-12, 1e-12));
  EXPECT_HAS(error_of([] { mm::inception_transform_input(at::zeros({1, 1, 4, 4})); }),
             "expected an N x 3 x H x W input, got 4 dimensions with 1 channels");
}

TEST(GoogLeNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::googlenet(mm::ArchArgs{});
  // trunc_normal_(mean=0, std=0.01, a=-2, b=2) for Conv2d and Linear weights.
  const at::Tensor w = m->inception4e->branch2->at<mm::BasicConv2dImpl>(1)->conv->weight;
  EXPECT_NEAR(w.std().item<double>(), 0.01, 0.0003);
  EXPECT_NEAR(m->fc->weight.std().item<double>(), 0.01, 0.0003);
  // Linear biases keep torch.nn's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const double bound = 1.0 / std::sqrt(1024.0);
  EXPECT_LE(m->fc->bias.abs().max().item<double>(), bound);
  EXPECT_GT(m->fc->bias.abs().max().item<double>(), 0.5 * bound);
  EXPECT_TRUE(at::equal(m->conv1->bn->weight, at::ones({64})));
  EXPECT_TRUE(at::equal(m->conv1->bn->bias, at::zeros({64})));
}

TEST(GoogLeNet, BadArgumentsAreRefused) {
  EXPECT_HAS(error_of([] { mm::googlenet(uninit(10, {{"aux_logits", "yes"}})); }),
             "googlenet: extra argument 'aux_logits' must be true or false, got \"yes\"");
  EXPECT_HAS(error_of([] { mm::googlenet(uninit(10, {{"blocks", 3}})); }),
             "googlenet: unknown extra argument 'blocks'");
  EXPECT_HAS(error_of([] { mm::googlenet(uninit(10, {{"dropout_aux", 1.5}})); }),
             "dropout_aux must be in [0, 1], got 1.5");
  EXPECT_HAS(error_of([] { mm::googlenet(uninit(0)); }), "num_classes must be at least 1, got 0");
}

TEST(GoogLeNet, ParityAsPretrainedBuilderConfiguresIt) {
  const nlohmann::json kwargs = {{"transform_input", true}, {"aux_logits", false}, {"init_weights", false}};
  EXPECT_LE(mz_test::parity("googlenet", 64, kwargs), 1e-4);
}
