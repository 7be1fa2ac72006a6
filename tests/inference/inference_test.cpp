// The inference path against torchvision's eager outputs:
// tests/oracle/inference_parity.py draws a torchvision model's weights at
// random, saves them and its eval-mode outputs for a batch of 1, a batch of 3
// and (where the architecture allows) a non-square input; modelzoo loads the
// weights read in place from the file (as a pretrained model's are), runs
// optimize_for_inference and must reproduce every output within
// 1e-4 x max(1, max |expected|). test_inference runs every family's smallest
// member; test_inference_slow (MZ_INFERENCE_ALL, label `slow`) all 80
// architectures. The rest checks the fallbacks: training mode, gradients,
// other dtypes, weights changed after optimisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/inference/inference.h"
#include "modelzoo/io/io.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/process.h"

namespace mm = modelzoo::models;

namespace {

struct Case {
  std::string arch;
  int size = 64;
  nlohmann::json extra = nlohmann::json::object();  ///< builder arguments (integers)
  bool default_run = false;
};

// Every family's smallest member runs by default; the slow label runs all.
const std::vector<Case> kCases = {
    {"alexnet", 64, {}, true},
    {"convnext_tiny", 32, {}, true},
    {"convnext_small", 32},
    {"convnext_base", 32},
    {"convnext_large", 32},
    {"densenet121", 32, {}, true},
    {"densenet161", 32},
    {"densenet169", 32},
    {"densenet201", 32},
    {"efficientnet_b0", 64, {}, true},
    {"efficientnet_b1", 64},
    {"efficientnet_b2", 64},
    {"efficientnet_b3", 64},
    {"efficientnet_b4", 64},
    {"efficientnet_b5", 64},
    {"efficientnet_b6", 64},
    {"efficientnet_b7", 64},
    {"efficientnet_v2_s", 64},  // chaotic with the oracle's random weights
    {"efficientnet_v2_m", 64},
    {"efficientnet_v2_l", 64},
    {"googlenet", 64, {}, true},
    {"inception_v3", 80, {}, true},
    {"maxvit_t", 224, {}, true},
    {"mnasnet0_5", 64, {}, true},
    {"mnasnet0_75", 64},
    {"mnasnet1_0", 64},
    {"mnasnet1_3", 64},
    {"mobilenet_v2", 32, {}, true},
    {"mobilenet_v3_large", 64},
    {"mobilenet_v3_small", 64, {}, true},
    {"regnet_x_400mf", 64, {}, true},
    {"regnet_x_800mf", 64},
    {"regnet_x_1_6gf", 64},
    {"regnet_x_3_2gf", 64},
    {"regnet_x_8gf", 64},
    {"regnet_x_16gf", 64},
    {"regnet_x_32gf", 64},
    {"regnet_y_400mf", 64, {}, true},
    {"regnet_y_800mf", 64},
    {"regnet_y_1_6gf", 64},
    {"regnet_y_3_2gf", 64},
    {"regnet_y_8gf", 64},
    {"regnet_y_16gf", 64},
    {"regnet_y_32gf", 64},
    {"regnet_y_128gf", 64},
    {"resnet18", 64, {}, true},
    {"resnet34", 64},
    {"resnet50", 64},
    {"resnet101", 64},
    {"resnet152", 64},
    {"resnext50_32x4d", 64},
    {"resnext101_32x8d", 64},
    {"resnext101_64x4d", 64},
    {"wide_resnet50_2", 64},
    {"wide_resnet101_2", 64},
    {"shufflenet_v2_x0_5", 64, {}, true},
    {"shufflenet_v2_x1_0", 64},
    {"shufflenet_v2_x1_5", 64},
    {"shufflenet_v2_x2_0", 64},
    {"squeezenet1_0", 64},
    {"squeezenet1_1", 64, {}, true},
    {"swin_t", 64, {}, true},
    {"swin_s", 64},
    {"swin_b", 64},
    {"swin_v2_t", 40, {}, true},
    {"swin_v2_s", 64},
    {"swin_v2_b", 64},
    {"vgg11", 64, {}, true},
    {"vgg11_bn", 64, {}, true},
    {"vgg13", 64},
    {"vgg13_bn", 64},
    {"vgg16", 64},
    {"vgg16_bn", 64},
    {"vgg19", 64},
    {"vgg19_bn", 64},
    {"vit_b_16", 64, {{"image_size", 64}}},
    {"vit_b_32", 64, {{"image_size", 64}}, true},
    {"vit_h_14", 56, {{"image_size", 56}}},
    {"vit_l_16", 64, {{"image_size", 64}}},
    {"vit_l_32", 64, {{"image_size", 64}}},
};

std::vector<Case> selected() {
  std::vector<Case> out;
  for (const Case& c : kCases) {
#ifndef MZ_INFERENCE_ALL
    if (!c.default_run) continue;
#endif
    out.push_back(c);
  }
  return out;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.arch << " at " << c.size; }

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.arch; }

// The oracle's argument for a case: ARCH:SIZE:KEY=INT,...
std::string oracle_arg(const Case& c) {
  std::string kw;
  for (const auto& [k, v] : c.extra.items()) kw += (kw.empty() ? "" : ",") + k + "=" + v.dump();
  return c.arch + ":" + std::to_string(c.size) + ":" + kw;
}

// A model of `c` with the oracle's weights, plus the oracle's document.
struct Loaded {
  mm::Classifier model{nullptr};
  modelzoo::io::Value io;
};

// mapped: the weights read in place from the file, as a pretrained model's
// are (which decides some layouts, see ConvKernel); otherwise copied into
// memory of the process's own, where they may be changed in place.
bool load_case(const Case& c, bool train, Loaded* out, bool mapped = false) {
  mz_test::TempDir dir("mz_inference_");
  const std::string script = std::string(MZ_SOURCE_DIR) + "/tests/oracle/inference_parity.py";
  const auto run = mz_test::run_command(std::string(mz_test::python()) + " " +
                                        mz_test::shell_quote(script) + " --out " +
                                        mz_test::shell_quote(dir.path().string()) +
                                        (train ? " --train " : " ") + oracle_arg(c));
  EXPECT_EQ(run.exit_code, 0) << "oracle failed for " << c.arch << ": " << run.out;
  if (run.exit_code != 0) return false;
  modelzoo::io::ReadOptions ro;
  ro.mmap = mapped;  // a mapping outlives the file, which goes away with `dir`
  const auto sd = modelzoo::io::read_state_dict(dir / (c.arch + ".weights.pth"), ro);
  ro.mmap = false;
  out->io = modelzoo::io::read(dir / (c.arch + ".io.pth"), ro);
  mm::ArchArgs args;
  args.init_weights = false;
  args.extra = c.extra;
  out->model = mm::build_architecture(c.arch, args);
  const auto report = modelzoo::state_dict::load_state_dict(*out->model, sd);
  EXPECT_TRUE(report.ok()) << report.to_string();
  out->model->eval();
  return report.ok();
}

double relative_diff(const at::Tensor& out, const at::Tensor& expected) {
  EXPECT_EQ(out.sizes(), expected.sizes());
  if (out.sizes() != expected.sizes()) return INFINITY;
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (out - expected).abs().max().item<double>() / scale;
}

std::string shape(const at::Tensor& t) {
  std::string s;
  for (int64_t d : t.sizes()) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

class Optimized : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(Optimized, MatchesTorchvisionEager) {
  const Case& c = GetParam();
  Loaded l;
  ASSERT_TRUE(load_case(c, false, &l, /*mapped=*/true));
  const modelzoo::InferenceReport r = modelzoo::optimize_for_inference(*l.model);
  std::cout << "[ inference ] " << c.arch << ": " << r.to_string() << "\n";
  EXPECT_GT(r.convolutions + r.linear, 0u);

  const auto& inputs = l.io.at("inputs").items();
  const auto& outputs = l.io.at("outputs").items();
  const auto& exact = l.io.at("outputs64").items();
  const auto& channels_last = l.io.at("outputs_cl").items();
  ASSERT_EQ(inputs.size(), outputs.size());
  ASSERT_EQ(inputs.size(), exact.size());
  ASSERT_EQ(inputs.size(), channels_last.size());
  ASSERT_GE(inputs.size(), 2u);
  c10::InferenceMode guard;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor x = inputs[i].as_tensor();
    const at::Tensor out = l.model->forward(x);
    const at::Tensor exact64 = exact[i].as_tensor().to(at::kFloat);
    const double diff = relative_diff(out, outputs[i].as_tensor());
    // How far torchvision's own float32 outputs (NCHW and channels-last, two
    // summation orders) are from float64, and ours.
    const double eager_error = std::max(relative_diff(outputs[i].as_tensor(), exact64),
                                        relative_diff(channels_last[i].as_tensor(), exact64));
    const double our_error = relative_diff(out, exact64);
    std::cout << "[ inference ] " << c.arch << " input " << shape(x)
              << ": relative max |diff| = " << diff << " (vs float64: torchvision " << eager_error
              << ", optimized " << our_error << ")\n";
    ASSERT_TRUE(at::isfinite(out).all().item<bool>()) << c.arch << " input " << shape(x);
    EXPECT_TRUE(out.is_contiguous()) << c.arch << " input " << shape(x);
    if (eager_error > 1e-3) {
      // Random weights made this network chaotic: torchvision's own float32
      // output is off from float64 by over ten times the tolerance, so no
      // float32 path can be held to it, and where such a network's other
      // inputs are off by 10-100% the rule below compares noise
      // (efficientnet_v2_m's batch of 3: torchvision 1.0e-3, optimized
      // 2.2e-3 on one machine, within the rule on another). Shape and
      // finite values are checked above.
      std::cout << "[ inference ] " << c.arch << " input " << shape(x)
                << ": ill-conditioned with these random weights, not compared\n";
      continue;
    }
    // Within 1e-4 of torchvision's output; where torchvision's float32
    // outputs are themselves further than the tolerance from float64, at most
    // twice as far from float64 as the further of them.
    EXPECT_TRUE(diff <= 1e-4 || (eager_error > 1e-4 / 2 && our_error <= 2 * eager_error))
        << c.arch << " input " << shape(x) << ": diff " << diff << ", torchvision's float32 error "
        << eager_error << ", optimized " << our_error;
  }
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Optimized, ::testing::ValuesIn(selected()), case_name);

#ifndef MZ_INFERENCE_ALL

namespace {

const Case kResnet18{"resnet18", 64};

}  // namespace

TEST(Inference, ReportCountsResnet18Layers) {
  mm::ArchArgs args;
  args.init_weights = false;
  mm::Classifier model = mm::build_architecture("resnet18", args);
  model->eval();
  const auto r = modelzoo::optimize_for_inference(*model);
  EXPECT_EQ(r.convolutions, 20u);  // 17 in the blocks and the stem, 3 downsamples
  EXPECT_EQ(r.folded_batch_norms, 20u);
  EXPECT_EQ(r.linear, 1u);
  EXPECT_EQ(r.attention, 0u);
  EXPECT_EQ(modelzoo::clear_inference_kernels(*model), 41u);
  EXPECT_EQ(modelzoo::clear_inference_kernels(*model), 0u);
}

TEST(Inference, ViTAttentionAndSwinLinearsGetKernels) {
  mm::ArchArgs args;
  args.init_weights = false;
  args.extra = {{"image_size", 64}};
  mm::Classifier vit = mm::build_architecture("vit_b_32", args);
  const auto r = modelzoo::optimize_for_inference(*vit);
  EXPECT_EQ(r.attention, 12u);
  EXPECT_EQ(r.linear, 12u * 3 + 1);  // out_proj and two MLP layers per block, the head
  EXPECT_EQ(r.convolutions, 1u);     // the patch embedding
}

// train() after optimisation is torchvision's training mode: batch
// statistics, running averages updated, gradients; eval() then serves the
// updated statistics (the folded weights are rebuilt).
TEST(Inference, TrainModeAfterOptimizationIsTorchvisionTraining) {
  Loaded l;
  ASSERT_TRUE(load_case(kResnet18, /*train=*/true, &l));
  modelzoo::optimize_for_inference(*l.model);
  l.model->train();
  const at::Tensor y = l.model->forward(l.io.at("train_input").as_tensor());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_LE(relative_diff(y.detach(), l.io.at("train_output").as_tensor()), 1e-4);
  y.sum().backward();
  for (const auto& p : l.model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  const auto& trained = l.io.at("trained_state");
  for (const auto& b : l.model->named_buffers()) {
    if (b.key().find("running_") == std::string::npos) continue;
    EXPECT_TRUE(at::allclose(b.value(), trained.at(b.key()).as_tensor(), 1e-5, 1e-6)) << b.key();
  }

  l.model->eval();
  c10::InferenceMode guard;
  const at::Tensor x = l.io.at("inputs").items()[1].as_tensor();
  const at::Tensor fast = l.model->forward(x);
  modelzoo::clear_inference_kernels(*l.model);
  const at::Tensor plain = l.model->forward(x);
  EXPECT_LE(relative_diff(fast, plain), 1e-4);
}

TEST(Inference, GradientsAndOtherDtypesTakeThePlainPath) {
  Loaded l;
  ASSERT_TRUE(load_case(kResnet18, false, &l));
  modelzoo::optimize_for_inference(*l.model);
  const at::Tensor x = l.io.at("inputs").items()[0].as_tensor();
  const at::Tensor expected = l.io.at("outputs").items()[0].as_tensor();

  const at::Tensor with_grad = l.model->forward(x);  // grad mode on: autograd graph kept
  EXPECT_TRUE(with_grad.requires_grad());
  EXPECT_LE(relative_diff(with_grad.detach(), expected), 1e-4);

  l.model->to(at::kDouble);
  at::NoGradGuard no_grad;
  const at::Tensor dbl = l.model->forward(x.to(at::kDouble));
  EXPECT_EQ(dbl.scalar_type(), at::kDouble);
  EXPECT_LE(relative_diff(dbl.to(at::kFloat), expected), 1e-4);

  // Back to float: the kernels see new parameter storage and repack.
  l.model->to(at::kFloat);
  EXPECT_LE(relative_diff(l.model->forward(x), expected), 1e-4);
}

TEST(Inference, WeightsChangedInPlaceAreRepacked) {
  Loaded l;
  ASSERT_TRUE(load_case(kResnet18, false, &l));
  modelzoo::optimize_for_inference(*l.model);
  const at::Tensor x = l.io.at("inputs").items()[1].as_tensor();
  at::NoGradGuard no_grad;
  const at::Tensor before = l.model->forward(x);
  for (auto& p : l.model->named_parameters()) {
    if (p.key() == "layer1.0.conv1.weight" || p.key() == "layer2.0.bn2.weight" ||
        p.key() == "fc.bias") {
      p.value().mul_(1.5).add_(0.01);
    }
  }
  l.model->named_buffers()["layer3.1.bn1.running_var"].mul_(2.0);
  const at::Tensor fast = l.model->forward(x);
  modelzoo::clear_inference_kernels(*l.model);
  const at::Tensor plain = l.model->forward(x);
  EXPECT_GT((fast - before).abs().max().item<double>(), 1e-2);
  EXPECT_LE(relative_diff(fast, plain), 1e-4);
}


// The default leaves the folds and reorders to the background thread: a
// forward started at once (layers the thread has not reached are packed by
// the call itself) and one after every reorder has finished both give the
// plain path's output, and `reordered` reports the work done. Without
// background the reorders are done when optimize_for_inference returns.
TEST(Inference, BackgroundReordersGiveTheForegroundResult) {
  Loaded l;
  ASSERT_TRUE(load_case(kResnet18, false, &l));
  const at::Tensor x = l.io.at("inputs").items()[1].as_tensor();
  const at::Tensor expected = l.io.at("outputs").items()[1].as_tensor();
  c10::InferenceMode guard;
  for (int round = 0; round < 3; ++round) {
    const auto r = modelzoo::optimize_for_inference(*l.model);
    ASSERT_TRUE(r.reordered.valid());
    EXPECT_LE(relative_diff(l.model->forward(x), expected), 1e-4) << "round " << round;
    EXPECT_GE(r.reordered.get(), 0.0);
    EXPECT_LE(relative_diff(l.model->forward(x), expected), 1e-4) << "round " << round;
  }
  modelzoo::InferenceOptions foreground;
  foreground.background = false;
  const auto r = modelzoo::optimize_for_inference(*l.model, foreground);
  ASSERT_TRUE(r.reordered.valid());
  EXPECT_EQ(r.reordered.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_GE(r.ms, r.reordered.get() - 1.0);  // the reorders are part of the call
  EXPECT_LE(relative_diff(l.model->forward(x), expected), 1e-4);
}

// Models that go away, or are optimised again, before the background thread
// reaches their layers: the thread skips what is gone, and a model destroyed
// right after optimisation costs nothing more.
TEST(Inference, BackgroundReordersOutliveTheirModels) {
  mm::ArchArgs args;
  args.init_weights = false;
  std::vector<std::shared_future<double>> done;
  for (int i = 0; i < 4; ++i) {
    mm::Classifier model = mm::build_architecture("resnet18", args);
    model->eval();
    done.push_back(modelzoo::optimize_for_inference(*model).reordered);
    if (i % 2 == 0) done.push_back(modelzoo::optimize_for_inference(*model).reordered);
  }  // each model is destroyed here, its reorders maybe still pending
  for (const auto& d : done) EXPECT_GE(d.get(), 0.0);
}


// A classifier layer over kEagerPrepackBytes (here 4096 -> 1100, 17.2 MiB),
// as vgg19's and alexnet's are: from a mapped file its first call with few
// rows reads the dense weight (GEMV for one row), the second reorders it;
// in memory of its own it is never reordered. Every path gives at::linear's
// result, whatever the rows: 1, 3, and 300 (the inner product).
TEST(Inference, LargeLinearLayersMatchOnEveryPath) {
  namespace mm = modelzoo::models;
  at::manual_seed(3);
  mm::Linear owned(mm::LinearOptions(4096, 1100), mm::InitPolicy::torch_default());
  mz_test::TempDir dir("mz_inference_linear_");
  const auto file = dir.path() / "linear.pth";
  modelzoo::io::write_state_dict(file, modelzoo::state_dict::state_dict(*owned));
  mm::Linear mapped(mm::LinearOptions(4096, 1100), mm::InitPolicy::torch_default(false));
  const auto report =
      modelzoo::state_dict::load_state_dict(*mapped, modelzoo::io::read_state_dict(file));
  std::filesystem::remove(file);  // the mapping stays valid
  EXPECT_EQ(report.aliased, 2u);
  at::NoGradGuard no_grad;
  for (mm::Linear* layer : {&owned, &mapped}) {
    (*layer)->eval();
    const at::Tensor w = (*layer)->weight.clone(), b = (*layer)->bias.clone();
    torch::nn::Module holder;  // optimize_for_inference walks a model's children
    holder.register_module("fc", *layer);
    EXPECT_EQ(modelzoo::optimize_for_inference(holder).linear, 1u);
    for (const int64_t rows : {1, 1, 1, 3, 300, 1}) {
      const at::Tensor x = at::randn({rows, 4096});
      const at::Tensor expected = at::linear(x, w, b);
      EXPECT_LE(relative_diff((*layer)->forward(x), expected), 1e-5) << rows << " rows";
    }
  }
}

// A convolution weight over kOwnedDenseBytes (here 256 -> 256, 3 x 3:
// 2.25 MiB): read in place from a file it is reordered once and its pages
// handed back; in memory of its own (random initialisation, a storage copied
// out of a misaligned file) it is not copied, and oneDNN reads the dense
// parameter. Both give at::conv2d's result, also after an in-place change,
// with Winograd and without (InferenceOptions::winograd).
TEST(Inference, LargeConvolutionsMatchOnEveryPath) {
  namespace mm = modelzoo::models;
  at::manual_seed(4);
  const auto options = mm::Conv2dOptions(256, 256, 3).padding(1);
  mm::Conv2d owned(options, mm::InitPolicy::torch_default());
  mz_test::TempDir dir("mz_inference_conv_");
  const auto file = dir.path() / "conv.pth";
  modelzoo::io::write_state_dict(file, modelzoo::state_dict::state_dict(*owned));
  mm::Conv2d mapped(options, mm::InitPolicy::torch_default(false));
  const auto report =
      modelzoo::state_dict::load_state_dict(*mapped, modelzoo::io::read_state_dict(file));
  EXPECT_EQ(report.aliased, 2u);
  at::NoGradGuard no_grad;
  for (const bool winograd : {true, false}) {
    for (mm::Conv2d* layer : {&owned, &mapped}) {
      (*layer)->eval();
      torch::nn::Module holder;
      holder.register_module("conv", *layer);
      modelzoo::InferenceOptions inference;
      inference.winograd = winograd;  // the mapped weight takes Winograd where the CPU has AVX2 and FMA
      EXPECT_EQ(modelzoo::optimize_for_inference(holder, inference).convolutions, 1u);
      for (const int64_t batch : {1, 3}) {
        const at::Tensor x = at::randn({batch, 256, 14, 11});
        const at::Tensor expected = at::conv2d(x, (*layer)->weight, (*layer)->bias, 1, 1);
        EXPECT_LE(relative_diff((*layer)->forward(x), expected), 1e-5) << batch << (winograd ? "" : ", no Winograd");
      }
      if (layer == &owned) {  // a mapped weight is read-only
        (*layer)->weight.mul_(0.5);
        const at::Tensor x = at::randn({1, 256, 14, 11});
        const at::Tensor expected = at::conv2d(x, (*layer)->weight, (*layer)->bias, 1, 1);
        EXPECT_LE(relative_diff((*layer)->forward(x), expected), 1e-5) << "after an in-place change";
      }
    }
  }
}

// oneDNN's AVX-512 kernels pick a convolution's weight layout by the input's
// size, so a kernel prepacks again for a size that wants another layout than
// the one it was first prepacked for (ConvKernel::context_for). A 1 x 1
// convolution with a folded BatchNorm (resnet50's layer4 shape, whose layout
// differs between 56 x 56 and 7 x 7 there), a strided 3 x 3 and a grouped
// 3 x 3, called at sizes from 7 x 7 to 56 x 56, batches 1
// and 3, a size again after others, and again after an in-place change to a
// weight: each call gives the plain path's output.
TEST(Inference, ConvolutionsMatchAtEveryInputSize) {
  namespace mm = modelzoo::models;
  at::manual_seed(5);
  const auto init = mm::InitPolicy::torch_default();
  torch::nn::Module holder;
  auto conv1 = holder.register_module("conv1", mm::Conv2d(mm::Conv2dOptions(1024, 512, 1).bias(false), init));
  auto bn1 = holder.register_module("bn1", mm::BatchNorm2d(512, init));
  // Under kOwnedDenseBytes, so that they are prepacked too.
  auto conv2 = holder.register_module("conv2", mm::Conv2d(mm::Conv2dOptions(512, 32, 3).stride(2).padding(1), init));
  auto conv3 = holder.register_module("conv3", mm::Conv2d(mm::Conv2dOptions(32, 32, 3).padding(1).groups(4), init));
  at::NoGradGuard no_grad;
  bn1->running_mean.copy_(at::randn({512}) * 0.1);
  bn1->running_var.copy_(at::rand({512}) + 0.5);
  bn1->weight.copy_(at::rand({512}) + 0.5);
  holder.eval();
  const auto forward = [&](const at::Tensor& x) { return conv3->forward(conv2->forward(bn1->forward(conv1->forward(x)))); };
  const std::vector<std::vector<int64_t>> sizes = {{1, 7, 7},   {1, 56, 56}, {1, 14, 14}, {3, 7, 7},
                                                   {1, 28, 20}, {1, 7, 7},   {3, 56, 56}, {1, 14, 14}};
  std::vector<at::Tensor> inputs, expected;
  for (const auto& s : sizes) {
    inputs.push_back(at::randn({s[0], 1024, s[1], s[2]}));
    expected.push_back(forward(inputs.back()));
  }
  const auto report = modelzoo::optimize_for_inference(holder);
  EXPECT_EQ(report.convolutions, 3u);
  EXPECT_EQ(report.folded_batch_norms, 1u);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::string what = std::to_string(sizes[i][0]) + " x 1024 x " + std::to_string(sizes[i][1]) + " x " +
                             std::to_string(sizes[i][2]) + " (call " + std::to_string(i) + ")";
    EXPECT_LE(relative_diff(forward(inputs[i]), expected[i]), 1e-5) << what;
  }
  conv1->weight.mul_(0.5);
  std::vector<at::Tensor> fast;
  for (std::size_t i = 0; i < 3; ++i) fast.push_back(forward(inputs[i]));
  EXPECT_EQ(modelzoo::clear_inference_kernels(holder), 4u);  // three convolutions and the folded norm
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_LE(relative_diff(fast[i], forward(inputs[i])), 1e-5) << "after an in-place change, call " << i;
  }
}

// A Sequential of spatial convolutions as VGG's features are, read in
// place from a file: without AVX-512 its convolutions take the blocked
// layout and the Sequential gets a kernel that keeps activations in it
// through the ReLUs and max-pooling, going dense around other layers (a
// Dropout, a max-pooling with dilation). Its output is the plain path's for
// batches 1 and 3 at non-square sizes, NCHW and channels-last; and so with a
// BatchNorm in training mode, back in eval mode (its statistics refolded), and
// with a layer appended after optimisation.
TEST(Inference, BlockedSequentialsMatchThePlainPath) {
  namespace mm = modelzoo::models;
  const auto make = [](bool init) {
    const auto p = mm::InitPolicy::torch_default(init);
    mm::Sequential s;
    s->push_back(mm::Conv2d(mm::Conv2dOptions(3, 64, 3).padding(1), p));
    s->push_back(mm::ReLU());
    s->push_back(mm::Conv2d(mm::Conv2dOptions(64, 64, 3).padding(1), p));
    s->push_back(mm::BatchNorm2d(mm::BatchNorm2dOptions(64), p));
    s->push_back(mm::ReLU());
    s->push_back(mm::MaxPool2d(2));
    s->push_back(mm::Conv2d(mm::Conv2dOptions(64, 96, 3).padding(1), p));
    s->push_back(mm::ReLU());
    s->push_back(mm::Dropout(0.5));
    s->push_back(mm::Conv2d(mm::Conv2dOptions(96, 96, 5).padding(2).stride(2), p));
    s->push_back(mm::ReLU());
    s->push_back(mm::MaxPool2d(mm::MaxPool2dOptions(3).stride(2).ceil_mode(true)));
    s->push_back(mm::Conv2d(mm::Conv2dOptions(96, 128, 3).padding(1), p));
    s->push_back(mm::MaxPool2d(mm::MaxPool2dOptions(2).stride(1).dilation(2)));
    s->push_back(mm::Conv2d(mm::Conv2dOptions(128, 64, 3), p));
    return s;
  };
  at::manual_seed(5);
  mm::Sequential owned = make(true);
  {
    at::NoGradGuard no_grad;
    const auto bn = owned->at<mm::BatchNorm2dImpl>(3);
    bn->running_mean.uniform_(-0.5, 0.5);
    bn->running_var.uniform_(0.5, 2.0);
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
  }
  mz_test::TempDir dir("mz_inference_chain_");
  const auto file = dir.path() / "features.pth";
  modelzoo::io::write_state_dict(file, modelzoo::state_dict::state_dict(*owned));
  mm::Sequential seq = make(false);
  const auto report = modelzoo::state_dict::load_state_dict(*seq, modelzoo::io::read_state_dict(file));
  ASSERT_TRUE(report.ok()) << report.to_string();
  EXPECT_GT(report.aliased, 0u);
  seq->eval();
  torch::nn::Module holder;
  holder.register_module("features", seq);

  const std::vector<at::Tensor> inputs = {at::randn({1, 3, 61, 47}),
                                          at::randn({3, 3, 40, 52}).contiguous(at::MemoryFormat::ChannelsLast)};
  // The plain path's output for x in the current modes.
  const auto plain = [&](const at::Tensor& x) {
    modelzoo::clear_inference_kernels(holder);
    at::NoGradGuard no_grad;
    return seq->forward(x);
  };
  const auto check = [&](const std::string& what) {
    for (const at::Tensor& x : inputs) {
      const at::Tensor expected = plain(x);
      modelzoo::optimize_for_inference(holder);
      std::cout << "[ inference ] " << what << ", input " << shape(x) << ": the Sequential "
                << (seq->inference_kernel() ? "keeps the blocked layout" : "has no kernel of its own") << "\n";
      const at::Tensor before = x.clone();
      at::NoGradGuard no_grad;
      const at::Tensor out = seq->forward(x);
      EXPECT_TRUE(at::equal(x, before)) << what << ": the input was overwritten";
      EXPECT_TRUE(out.layout() == at::kStrided) << what;
      EXPECT_LE(relative_diff(out, expected), 1e-5) << what << ", input " << shape(x);
    }
  };
  check("eval");
  seq->at<mm::BatchNorm2dImpl>(3)->train();
  check("a BatchNorm in training mode");
  seq->at<mm::BatchNorm2dImpl>(3)->eval();
  check("back in eval mode");
  seq->push_back(mm::ReLU());
  check("a ReLU appended");
}

#endif  // MZ_INFERENCE_ALL
