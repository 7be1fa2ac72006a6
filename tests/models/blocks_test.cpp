// The shared blocks of modelzoo/models/blocks.h: child names and slots as
// torchvision's, forward against the plain ATen computation, training-only
// behaviour of StochasticDepth, and refusal of bad options.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/blocks.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;

std::vector<std::string> child_names(const torch::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& c : m.named_children()) names.push_back(c.key());
  return names;
}

std::vector<std::string> param_names(const torch::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.key());
  return names;
}

// Random values in every parameter and BatchNorm statistic.
void randomise(torch::nn::Module& m) {
  at::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.uniform_(-0.5, 0.5);
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
  }
}

}  // namespace

TEST(Blocks, Conv2dNormActivationSlotsPaddingAndBias) {
  const mm::InitPolicy init = mm::InitPolicy::torch_default();
  // Defaults: BatchNorm2d + ReLU, "same" padding, no conv bias.
  mm::Conv2dNormActivation a(mm::Conv2dNormActivationOptions(4, 8, 5).stride(2), init);
  EXPECT_EQ(child_names(*a), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ((*a->conv->options().padding())[0], 2);
  EXPECT_FALSE(a->conv->bias.defined());
  EXPECT_NE(std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(a->norm), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLUImpl>(a->activation), nullptr);
  EXPECT_EQ(param_names(*a), (std::vector<std::string>{"0.weight", "1.weight", "1.bias"}));
  EXPECT_EQ(a->out_channels(), 8);
  // Dilation widens the padding: (3 - 1) / 2 * 2.
  mm::Conv2dNormActivation d(mm::Conv2dNormActivationOptions(4, 4, 3).dilation(2), init);
  EXPECT_EQ((*d->conv->options().padding())[1], 2);

  // No norm: the activation moves to slot "1" and the conv gets a bias.
  mm::Conv2dNormActivation b(mm::Conv2dNormActivationOptions(4, 8, 1).norm(nullptr).activation(
                                 mm::activation_factory<mm::SiLU>()),
                             init);
  EXPECT_EQ(child_names(*b), (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(b->conv->bias.defined());
  EXPECT_EQ(b->norm, nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<mm::SiLUImpl>(b->activation), nullptr);

  // Neither: a lone convolution; an explicit bias and padding are kept.
  mm::Conv2dNormActivation c(mm::Conv2dNormActivationOptions(3, 6, 4)
                                 .stride(4)
                                 .padding(torch::ExpandingArray<2>(0))
                                 .norm(mm::layer_norm2d_factory(1e-6))
                                 .activation(nullptr)
                                 .bias(true),
                             init);
  EXPECT_EQ(child_names(*c), (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(c->conv->bias.defined());
  EXPECT_EQ((*c->conv->options().padding())[0], 0);
  EXPECT_EQ(c->activation, nullptr);
  auto ln = std::dynamic_pointer_cast<mm::LayerNorm2dImpl>(c->norm);
  ASSERT_NE(ln, nullptr);
  EXPECT_DOUBLE_EQ(ln->options().eps(), 1e-6);

  // Forward = conv -> batch_norm (eval) -> relu.
  randomise(*a);
  a->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 4, 9, 9});
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(a->norm);
  const at::Tensor want = at::relu(at::batch_norm(at::conv2d(x, a->conv->weight, {}, 2, 2), bn->weight,
                                                  bn->bias, bn->running_mean, bn->running_var, false,
                                                  0.1, 1e-5, false));
  EXPECT_TRUE(at::allclose(a->forward(x), want, 1e-5, 1e-6));
  EXPECT_EQ(a->forward(x).sizes(), (at::IntArrayRef{2, 8, 5, 5}));
}

TEST(Blocks, BatchNormFactoryKeepsEpsAndMomentum) {
  mm::LayerPtr layer = mm::batch_norm2d_factory(1e-3, 0.01)(16, mm::InitPolicy::uninitialised());
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(layer);
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->options().eps(), 1e-3);
  EXPECT_DOUBLE_EQ(*bn->options().momentum(), 0.01);
  EXPECT_EQ(bn->weight.sizes(), (at::IntArrayRef{16}));
  auto ln = std::dynamic_pointer_cast<mm::LayerNormImpl>(mm::layer_norm_factory(1e-6)(8, {}));
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(ln->options().normalized_shape(), (std::vector<int64_t>{8}));
  EXPECT_DOUBLE_EQ(ln->options().eps(), 1e-6);
}

TEST(Blocks, SqueezeExcitationMatchesItsDefinition) {
  mm::SqueezeExcitation se(mm::SqueezeExcitationOptions(8, 2).activation(mm::activation_factory<mm::SiLU>()),
                           mm::InitPolicy::torch_default());
  EXPECT_EQ(child_names(*se), (std::vector<std::string>{"avgpool", "fc1", "fc2", "activation",
                                                        "scale_activation"}));
  EXPECT_EQ(param_names(*se),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(se->fc1->weight.sizes(), (at::IntArrayRef{2, 8, 1, 1}));
  EXPECT_EQ(se->fc2->weight.sizes(), (at::IntArrayRef{8, 2, 1, 1}));
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({3, 8, 5, 7});
  const at::Tensor pooled = x.mean({2, 3}, /*keepdim=*/true);
  const at::Tensor s = at::sigmoid(
      at::conv2d(at::silu(at::conv2d(pooled, se->fc1->weight, se->fc1->bias)), se->fc2->weight, se->fc2->bias));
  EXPECT_TRUE(at::allclose(se->forward(x), s * x, 1e-5, 1e-6));

  // MobileNet v3's variant: Hardsigmoid gate.
  mm::SqueezeExcitation hs(
      mm::SqueezeExcitationOptions(8, 4).scale_activation(mm::activation_factory<mm::Hardsigmoid>()),
      mm::InitPolicy::torch_default());
  EXPECT_NE(std::dynamic_pointer_cast<mm::HardsigmoidImpl>(hs->scale_activation), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLUImpl>(hs->activation), nullptr);

  EXPECT_HAS(error_of([&] { se->forward(at::randn({1, 4, 3, 3})); }),
             "SqueezeExcitation: expected an N x 8 x H x W input, got shape [1, 4, 3, 3]");
  EXPECT_HAS(error_of([] { mm::SqueezeExcitation(mm::SqueezeExcitationOptions(8, 0), mm::InitPolicy{}); }),
             "squeeze_channels must be positive, got 0");
  EXPECT_HAS(error_of([] {
               mm::SqueezeExcitation(mm::SqueezeExcitationOptions(8, 2).activation(nullptr), mm::InitPolicy{});
             }),
             "SqueezeExcitation: activation must not be empty");
}

TEST(Blocks, StochasticDepthOnlyActsInTraining) {
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({64, 3, 2, 2}) + 1.0;  // strictly positive
  mm::StochasticDepth sd(0.5, "row");
  sd->eval();
  EXPECT_TRUE(at::equal(sd->forward(x), x)) << "eval mode is the identity";
  sd->train();
  at::manual_seed(3);
  const at::Tensor y = sd->forward(x);
  // Each sample is either dropped entirely or kept and scaled by 1 / (1 - p).
  int dropped = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    if (at::equal(y[i], at::zeros_like(x[i]))) {
      ++dropped;
    } else {
      EXPECT_TRUE(at::allclose(y[i], x[i] * 2.0)) << "sample " << i;
    }
  }
  EXPECT_GT(dropped, 10);
  EXPECT_LT(dropped, 54);

  // "batch": one draw for the whole tensor.
  mm::StochasticDepth batch(0.5, "batch");
  batch->train();
  for (int i = 0; i < 8; ++i) {
    const at::Tensor z = batch->forward(x);
    EXPECT_TRUE(at::equal(z, at::zeros_like(x)) || at::allclose(z, x * 2.0));
  }
  // p = 0 is the identity and p = 1 drops everything, even in training.
  mm::StochasticDepth none(0.0, "row"), all(1.0, "row");
  none->train();
  all->train();
  EXPECT_TRUE(at::equal(none->forward(x), x));
  EXPECT_TRUE(at::equal(all->forward(x), at::zeros_like(x)));

  std::ostringstream os;
  sd->pretty_print(os);
  EXPECT_EQ(os.str(), "StochasticDepth(p=0.5, mode=row)");
  EXPECT_HAS(error_of([] { mm::StochasticDepth(1.5, "row"); }),
             "drop probability has to be between 0 and 1, got 1.5");
  EXPECT_HAS(error_of([] { mm::StochasticDepth(0.1, "column"); }),
             "mode has to be either 'batch' or 'row', got 'column'");
}

TEST(Blocks, LayerNorm2dNormalisesChannels) {
  mm::LayerNorm2d ln(6, 1e-6, mm::InitPolicy::torch_default());
  randomise(*ln);
  EXPECT_EQ(param_names(*ln), (std::vector<std::string>{"weight", "bias"}));
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 6, 4, 5});
  const at::Tensor want =
      at::layer_norm(x.permute({0, 2, 3, 1}), {6}, ln->weight, ln->bias, 1e-6).permute({0, 3, 1, 2});
  EXPECT_TRUE(at::allclose(ln->forward(x), want, 1e-5, 1e-6));
  EXPECT_HAS(error_of([&] { ln->forward(at::randn({2, 5, 4, 4})); }),
             "LayerNorm2d: expected an N x 6 x H x W input, got shape [2, 5, 4, 4]");
}

TEST(Blocks, PermuteAndItsChecks) {
  mm::Permute p(std::vector<int64_t>{0, 2, 3, 1});
  EXPECT_EQ(p->forward(at::zeros({1, 2, 3, 4})).sizes(), (at::IntArrayRef{1, 3, 4, 2}));
  EXPECT_HAS(error_of([] { mm::Permute(std::vector<int64_t>{0, 2, 2}); }),
             "Permute: dims [0, 2, 2] are not a permutation of 0..2");
  EXPECT_HAS(error_of([&] { p->forward(at::zeros({2, 3})); }), "expected a 4-D input, got shape [2, 3]");
}

TEST(Blocks, MlpLayoutAsTorchvision) {
  // ViT's MLPBlock: Linear, GELU, Dropout, Linear, Dropout -> keys 0.* and 3.*.
  mm::MLP mlp(mm::MLPOptions(8, {32, 8}).activation(mm::activation_factory<mm::GELU>()).dropout(0.1),
              mm::InitPolicy::torch_default());
  EXPECT_EQ(mlp->size(), 5u);
  EXPECT_EQ(param_names(*mlp), (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"}));
  EXPECT_NE(mlp->at<mm::GELUImpl>(1), nullptr);
  EXPECT_DOUBLE_EQ(mlp->at<mm::DropoutImpl>(2)->p(), 0.1);
  EXPECT_DOUBLE_EQ(mlp->at<mm::DropoutImpl>(4)->p(), 0.1);
  // With a norm layer after each hidden Linear.
  mm::MLP normed(mm::MLPOptions(4, {6, 6, 2}).norm(mm::layer_norm_factory()).bias(false),
                 mm::InitPolicy{});
  EXPECT_EQ(normed->size(), 10u);
  EXPECT_EQ(param_names(*normed), (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "4.weight",
                                                            "5.weight", "5.bias", "8.weight"}));
  normed->eval();
  EXPECT_EQ(normed->forward(at::randn({3, 4})).sizes(), (at::IntArrayRef{3, 2}));
  EXPECT_HAS(error_of([] { mm::MLP(mm::MLPOptions(4, {}), mm::InitPolicy{}); }), "MLP: hidden_channels must not be empty");
  EXPECT_HAS(error_of([] { mm::MLP(mm::MLPOptions(4, {4}).dropout(2.0), mm::InitPolicy{}); }),
             "MLP: dropout must be in [0, 1], got 2");
}
