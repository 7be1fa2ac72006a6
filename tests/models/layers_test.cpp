// The shared layers: names and slots, Python-style printing, forward against
// ATen, input checks, initialisation policies.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/layers.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;

std::string printed(const mm::LayerImpl& layer) {
  std::ostringstream os;
  layer.pretty_print(os);
  return os.str();
}

std::vector<std::string> param_names(const torch::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.key());
  for (const auto& b : m.named_buffers()) names.push_back(b.key());
  return names;
}

}  // namespace

TEST(Layers, SequentialNamesChildrenByIndexIncludingParameterFreeOnes) {
  const auto init = mm::InitPolicy::torch_default();
  mm::Sequential s;
  s->push_back(mm::Conv2d(mm::Conv2dOptions(3, 8, 3).padding(1), init));
  s->push_back(mm::ReLU());
  s->push_back(mm::MaxPool2d(2));
  s->push_back(mm::Conv2d(mm::Conv2dOptions(8, 4, 1).bias(false), init));
  s->push_back("head", mm::Linear(mm::LinearOptions(4, 2), init));
  EXPECT_EQ(s->size(), 5u);
  EXPECT_EQ(param_names(*s), (std::vector<std::string>{"0.weight", "0.bias", "3.weight",
                                                       "head.weight", "head.bias"}));
  // Python's names for the same Sequential: the children are "0".."3", "head".
  std::vector<std::string> children;
  for (const auto& c : s->named_children()) children.push_back(c.key());
  EXPECT_EQ(children, (std::vector<std::string>{"0", "1", "2", "3", "head"}));

  EXPECT_EQ(s->at<mm::Conv2dImpl>(3)->options().out_channels(), 4);
  EXPECT_NE(error_of([&] { s->at<mm::LinearImpl>(1); }).find("layer 1 is a ReLU"), std::string::npos);
  EXPECT_NE(error_of([&] { (*s)[9]; }).find("index 9 out of range (size 5)"), std::string::npos);
  EXPECT_NE(error_of([&] { s->push_back("head", mm::ReLU()); }).find("'head' already exists"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s->push_back("a.b", mm::ReLU()); }).find("invalid child name 'a.b'"),
            std::string::npos);

  const at::Tensor x = at::randn({2, 3, 8, 8});
  const at::Tensor y = s->forward(x);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{2, 4, 4, 2}));
}

TEST(Layers, PrintLikePython) {
  const auto init = mm::InitPolicy::uninitialised();
  EXPECT_EQ(printed(*mm::Conv2d(mm::Conv2dOptions(3, 64, 3).padding(1), init)),
            "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(printed(*mm::Conv2d(mm::Conv2dOptions(32, 32, 3).stride(2).groups(32).bias(false), init)),
            "Conv2d(32, 32, kernel_size=(3, 3), stride=(2, 2), groups=32, bias=False)");
  EXPECT_EQ(printed(*mm::Linear(mm::LinearOptions(25088, 4096), init)),
            "Linear(in_features=25088, out_features=4096, bias=True)");
  EXPECT_EQ(printed(*mm::BatchNorm2d(64, init)),
            "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(printed(*mm::MaxPool2d(mm::MaxPool2dOptions(2).stride(2))),
            "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False)");
  EXPECT_EQ(printed(*mm::AdaptiveAvgPool2d(7)), "AdaptiveAvgPool2d(output_size=(7, 7))");
  EXPECT_EQ(printed(*mm::Dropout(0.5)), "Dropout(p=0.5)");
  EXPECT_EQ(printed(*mm::LayerNorm(std::vector<int64_t>{768}, init)),
            "LayerNorm((768,), eps=1e-05, elementwise_affine=True)");
}

TEST(Layers, ForwardMatchesATen) {
  const auto init = mm::InitPolicy::torch_default();
  const at::Tensor x = at::randn({2, 4, 9, 9});

  mm::Conv2d conv(mm::Conv2dOptions(4, 6, {3, 1}).stride({2, 1}).padding({1, 0}).dilation(1).groups(2), init);
  EXPECT_EQ(conv->weight.sizes(), (at::IntArrayRef{6, 2, 3, 1}));
  EXPECT_TRUE(at::allclose(conv->forward(x),
                           at::conv2d(x, conv->weight, conv->bias, {2, 1}, {1, 0}, {1, 1}, 2)));

  mm::Linear lin(mm::LinearOptions(9, 5), init);
  EXPECT_TRUE(at::allclose(lin->forward(x), at::linear(x, lin->weight, lin->bias)));

  mm::LayerNorm ln(std::vector<int64_t>{9}, init);
  EXPECT_TRUE(at::allclose(ln->forward(x), at::layer_norm(x, {9}, ln->weight, ln->bias, 1e-5)));

  EXPECT_TRUE(at::allclose(mm::AvgPool2d(mm::AvgPool2dOptions(3).stride(2).padding(1))->forward(x),
                           at::avg_pool2d(x, 3, 2, 1)));
  EXPECT_TRUE(at::equal(mm::ReLU6()->forward(x * 10), at::clamp(x * 10, 0, 6)));
  EXPECT_TRUE(at::allclose(mm::SiLU()->forward(x), x * at::sigmoid(x)));
  EXPECT_TRUE(at::allclose(mm::Hardswish()->forward(x), at::hardswish(x)));
  EXPECT_TRUE(at::allclose(mm::GELU("tanh")->forward(x), at::gelu(x, "tanh")));
  EXPECT_EQ(mm::Flatten()->forward(x).sizes(), (at::IntArrayRef{2, 4 * 9 * 9}));
  EXPECT_TRUE(at::equal(mm::Identity()->forward(x), x));

  mm::Dropout drop(0.5);
  drop->eval();
  EXPECT_TRUE(at::equal(drop->forward(x), x));
  drop->train();
  EXPECT_FALSE(at::equal(drop->forward(x), x));
}

TEST(Layers, BatchNormTracksStatisticsLikePython) {
  mm::BatchNorm2d bn(mm::BatchNorm2dOptions(3).momentum(0.1), mm::InitPolicy::torch_default());
  const at::Tensor x = at::randn({4, 3, 5, 5}) * 2 + 1;
  bn->train();
  const at::Tensor y = bn->forward(x);
  const at::Tensor mean = x.mean({0, 2, 3});
  const at::Tensor var_unbiased = x.var({0, 2, 3}, /*unbiased=*/true);
  EXPECT_TRUE(at::allclose(bn->running_mean, 0.1 * mean, 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(bn->running_var, 0.9 + 0.1 * var_unbiased, 1e-4, 1e-5));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  const at::Tensor normalised =
      (x - mean.view({1, 3, 1, 1})) / at::sqrt(x.var({0, 2, 3}, false).view({1, 3, 1, 1}) + 1e-5);
  EXPECT_TRUE(at::allclose(y, normalised, 1e-4, 1e-4));

  // Eval uses the running statistics and leaves them alone.
  bn->eval();
  const at::Tensor rm = bn->running_mean.clone();
  const at::Tensor z = bn->forward(x);
  EXPECT_TRUE(at::equal(bn->running_mean, rm));
  EXPECT_TRUE(at::allclose(
      z, (x - rm.view({1, 3, 1, 1})) / at::sqrt(bn->running_var.view({1, 3, 1, 1}) + 1e-5), 1e-4,
      1e-4));

  // momentum=None: cumulative average.
  mm::BatchNorm2d cumulative(mm::BatchNorm2dOptions(3).momentum(c10::nullopt),
                             mm::InitPolicy::torch_default());
  cumulative->train();
  cumulative->forward(x);
  EXPECT_TRUE(at::allclose(cumulative->running_mean, mean, 1e-4, 1e-5));
}

TEST(Layers, NamesAndOrderOfBatchNormTensors) {
  mm::BatchNorm2d bn(8, mm::InitPolicy::torch_default());
  EXPECT_EQ(param_names(*bn), (std::vector<std::string>{"weight", "bias", "running_mean",
                                                        "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn->num_batches_tracked.scalar_type(), at::kLong);
  EXPECT_EQ(bn->num_batches_tracked.dim(), 0);
  mm::BatchNorm2d plain(mm::BatchNorm2dOptions(8).affine(false), mm::InitPolicy::torch_default());
  EXPECT_EQ(param_names(*plain),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
}

TEST(Layers, BadInputsAndOptionsNameTheProblem) {
  const auto init = mm::InitPolicy::torch_default();
  mm::Conv2d conv(mm::Conv2dOptions(3, 8, 3), init);
  EXPECT_NE(error_of([&] { conv->forward(at::zeros({1, 4, 8, 8})); })
                .find("expected 3 input channels, got input of shape [1, 4, 8, 8]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv->forward(at::zeros({8, 8})); }).find("3D or 4D input"),
            std::string::npos);
  mm::Linear lin(mm::LinearOptions(10, 2), init);
  EXPECT_NE(error_of([&] { lin->forward(at::zeros({1, 9})); })
                .find("Linear(10 -> 2): expected input whose last dimension is 10, got shape [1, 9]"),
            std::string::npos);
  mm::BatchNorm2d bn(4, init);
  EXPECT_NE(error_of([&] { bn->forward(at::zeros({2, 3, 2, 2})); }).find("expected 4 channels"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mm::Conv2d(mm::Conv2dOptions(3, 8, 3).groups(2), init); })
                .find("must be divisible by groups (2)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mm::Conv2d(mm::Conv2dOptions(3, 0, 3), init); })
                .find("out_channels must be positive, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mm::Dropout(1.5); }).find("[0, 1], got 1.5"), std::string::npos);
  EXPECT_NE(error_of([&] { mm::GELU("fast"); }).find("'none' or 'tanh', got 'fast'"),
            std::string::npos);
  mm::LayerNorm ln(std::vector<int64_t>{4}, init);
  EXPECT_NE(error_of([&] { ln->forward(at::zeros({2, 5})); }).find("ending in [4], got shape [2, 5]"),
            std::string::npos);
}

TEST(Layers, UninitialisedPolicyAllocatesWithoutDrawing) {
  const auto none = mm::InitPolicy::uninitialised();
  mm::Conv2d conv(mm::Conv2dOptions(3, 8, 3), none);
  EXPECT_EQ(conv->weight.sizes(), (at::IntArrayRef{8, 3, 3, 3}));
  EXPECT_EQ(conv->weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(conv->weight.requires_grad());
  mm::BatchNorm2d bn(4, none);
  // Buffers always get their defaults.
  EXPECT_TRUE(at::equal(bn->running_mean, at::zeros({4})));
  EXPECT_TRUE(at::equal(bn->running_var, at::ones({4})));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  const at::Tensor p = mm::new_parameter({2, 3}, mm::ParamInit::normal(0, 1), none);
  EXPECT_EQ(p.sizes(), (at::IntArrayRef{2, 3}));
}

TEST(Layers, TorchDefaultInitialisation) {
  at::manual_seed(1);
  const auto init = mm::InitPolicy::torch_default();
  mm::Linear lin(mm::LinearOptions(400, 300), init);
  // kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same bound.
  const double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(lin->weight.abs().max().item<double>(), bound);
  EXPECT_GT(lin->weight.abs().max().item<double>(), 0.95 * bound);
  EXPECT_NEAR(lin->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_LE(lin->bias.abs().max().item<double>(), bound);
  EXPECT_GT(lin->bias.abs().max().item<double>(), 0.9 * bound);
  mm::BatchNorm2d bn(16, init);
  EXPECT_TRUE(at::equal(bn->weight, at::ones({16})));
  EXPECT_TRUE(at::equal(bn->bias, at::zeros({16})));
}

TEST(Layers, ParamInitKinds) {
  at::manual_seed(2);
  at::Tensor t = at::empty({256, 128, 3, 3});  // fan_in 1152, fan_out 2304
  mm::ParamInit::kaiming_normal(mm::FanMode::FanOut, mm::Nonlinearity::ReLU).fill(t);
  EXPECT_NEAR(t.std().item<double>(), std::sqrt(2.0 / 2304), 0.01 * std::sqrt(2.0 / 2304));
  EXPECT_NEAR(t.mean().item<double>(), 0.0, 1e-3);

  mm::ParamInit::kaiming_uniform(mm::FanMode::FanIn, mm::Nonlinearity::ReLU).fill(t);
  const double b = std::sqrt(2.0) * std::sqrt(3.0 / 1152);
  EXPECT_LE(t.abs().max().item<double>(), b);
  EXPECT_GT(t.abs().max().item<double>(), 0.99 * b);

  mm::ParamInit::xavier_uniform().fill(t);
  const double xb = std::sqrt(6.0 / (1152 + 2304));
  EXPECT_LE(t.abs().max().item<double>(), xb);

  mm::ParamInit::trunc_normal(0.0, 1.0, -0.5, 0.5).fill(t);
  EXPECT_LE(t.max().item<double>(), 0.5);
  EXPECT_GE(t.min().item<double>(), -0.5);
  EXPECT_GT(t.std().item<double>(), 0.25);  // truncated, not collapsed

  mm::ParamInit::normal(3.0, 0.5).fill(t);
  EXPECT_NEAR(t.mean().item<double>(), 3.0, 0.01);
  EXPECT_NEAR(t.std().item<double>(), 0.5, 0.01);

  mm::ParamInit::constant(0.25).fill(t);
  EXPECT_TRUE(at::equal(t, at::full_like(t, 0.25)));

  at::Tensor v = at::empty({10});
  EXPECT_NE(error_of([&] { mm::ParamInit::kaiming_normal().fill(v); })
                .find("at least 2 dimensions"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mm::ParamInit::torch_default().fill(v); }).find("depends on the layer"),
            std::string::npos);
  EXPECT_EQ(mm::ParamInit::kaiming_normal(mm::FanMode::FanOut, mm::Nonlinearity::ReLU).describe(),
            "kaiming_normal_(a=0, mode='fan_out', nonlinearity='relu')");
}

TEST(Layers, PerLayerInitOverridesThePolicy) {
  auto init = mm::InitPolicy::torch_default();
  init.conv_weight = mm::ParamInit::constant(2.0);
  init.conv_bias = mm::ParamInit::zeros();
  mm::Conv2d a(mm::Conv2dOptions(2, 2, 1), init);
  mm::Conv2d b(mm::Conv2dOptions(2, 2, 1).weight_init(mm::ParamInit::constant(-1.0))
                   .bias_init(mm::ParamInit::ones()),
               init);
  EXPECT_TRUE(at::equal(a->weight, at::full({2, 2, 1, 1}, 2.0)));
  EXPECT_TRUE(at::equal(a->bias, at::zeros({2})));
  EXPECT_TRUE(at::equal(b->weight, at::full({2, 2, 1, 1}, -1.0)));
  EXPECT_TRUE(at::equal(b->bias, at::ones({2})));
  mm::BatchNorm2d zero_gamma(mm::BatchNorm2dOptions(3).weight_init(mm::ParamInit::zeros()), init);
  EXPECT_TRUE(at::equal(zero_gamma->weight, at::zeros({3})));
}

TEST(Layers, SequentialRunsActivationsInPlaceOnlyOnItsOwnTemporaries) {
  const at::Tensor x = at::randn({2, 3, 4, 4});
  const at::Tensor before = x.clone();

  // Called directly, an activation never writes over its input.
  mm::SiLU silu;
  const at::Tensor y = silu->forward(x);
  EXPECT_TRUE(x.equal(before));
  EXPECT_NE(y.data_ptr(), x.data_ptr());
  EXPECT_TRUE(y.equal(at::silu(x)));

  // In a Sequential the first layer gets the caller's tensor (left alone);
  // the later ones get the layer before's output, computed over in place.
  mm::Sequential seq;
  seq->push_back(mm::ReLU());
  seq->push_back(mm::Tanh());
  seq->push_back(mm::SiLU());
  const at::Tensor z = seq->forward(x);
  EXPECT_TRUE(x.equal(before));
  EXPECT_TRUE(z.equal(at::silu(at::tanh(at::relu(x)))));

  // A layer that passes its input on (Identity) hands the caller's tensor to the next one: left alone.
  mm::Sequential pass;
  pass->push_back(mm::Identity());
  pass->push_back(mm::ReLU());
  EXPECT_TRUE(pass->forward(x).equal(at::relu(x)));
  EXPECT_TRUE(x.equal(before));

  // Recording gradients: out of place, and backward gives the out-of-place gradient.
  const at::Tensor leaf = x.clone().requires_grad_();
  mm::Sequential act;
  act->push_back(mm::Identity());
  act->push_back(mm::SiLU());
  act->forward(leaf * 1.0).sum().backward();
  const at::Tensor s = at::sigmoid(x);
  EXPECT_TRUE(at::allclose(leaf.grad(), s * (1 + x * (1 - s)), 1e-5, 1e-6));
}
