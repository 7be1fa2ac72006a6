// ResNet, ResNeXt and Wide ResNet: structure, initialisation, builder
// arguments and numeric parity with torchvision beyond the shared parity
// table (dilated, grouped Bottleneck networks). The state_dict layout of every
// architecture is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/resnet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

const std::vector<std::string> kResNets = {
    "resnet18",         "resnet34",         "resnet50",        "resnet101",
    "resnet152",        "resnext50_32x4d",  "resnext101_32x8d", "resnext101_64x4d",
    "wide_resnet50_2",  "wide_resnet101_2"};

}  // namespace

TEST(ResNet, CatalogListsEveryArchitecture) {
  for (const auto& name : kResNets) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "resnet");
    EXPECT_TRUE(info->key_renames.empty()) << name;
    mm::Classifier model = info->build(uninit(10));
    EXPECT_NE(dynamic_cast<mm::ResNetImpl*>(model.get()), nullptr) << name;
  }
}

TEST(ResNet, BasicBlockLayout) {
  auto m = mm::resnet18(uninit());
  EXPECT_EQ(m->layer1->size(), 2u);
  EXPECT_EQ(m->layer4->size(), 2u);
  auto first = m->layer1->at<mm::BasicBlockImpl>(0);
  EXPECT_FALSE(first->downsample) << "64 -> 64 at stride 1 needs no downsample";
  auto down = m->layer2->at<mm::BasicBlockImpl>(0);
  ASSERT_TRUE(down->downsample);
  EXPECT_EQ((*down->conv1->options().stride())[0], 2);
  auto ds_conv = down->downsample->at<mm::Conv2dImpl>(0);
  EXPECT_EQ(ds_conv->weight.sizes(), (at::IntArrayRef{128, 64, 1, 1}));
  EXPECT_EQ((*ds_conv->options().stride())[0], 2);
  EXPECT_FALSE(ds_conv->bias.defined());
  EXPECT_NE(down->downsample->at<mm::BatchNorm2dImpl>(1), nullptr);
  EXPECT_EQ(m->fc->weight.sizes(), (at::IntArrayRef{1000, 512}));
  // Children in torchvision's attribute order (Python prints them so).
  std::vector<std::string> names;
  for (const auto& c : down->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "bn1", "relu", "conv2", "bn2", "downsample"}));
  names.clear();
  for (const auto& c : m->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                             "layer3", "layer4", "avgpool", "fc"}));
}

TEST(ResNet, BottleneckWidthsForResNeXtAndWide) {
  // ResNet-50: layer1.0 maps 64 -> 64 -> 64 -> 256, with a downsample (64 != 256).
  auto r50 = mm::resnet50(uninit());
  auto b = r50->layer1->at<mm::BottleneckImpl>(0);
  EXPECT_EQ(b->conv1->weight.sizes(), (at::IntArrayRef{64, 64, 1, 1}));
  EXPECT_EQ(b->conv3->weight.sizes(), (at::IntArrayRef{256, 64, 1, 1}));
  ASSERT_TRUE(b->downsample);
  EXPECT_EQ((*b->downsample->at<mm::Conv2dImpl>(0)->options().stride())[0], 1);
  // Stride sits on conv2 (ResNet v1.5).
  auto b2 = r50->layer2->at<mm::BottleneckImpl>(0);
  EXPECT_EQ((*b2->conv1->options().stride())[0], 1);
  EXPECT_EQ((*b2->conv2->options().stride())[0], 2);
  EXPECT_EQ(r50->fc->weight.sizes(), (at::IntArrayRef{1000, 2048}));
  std::vector<std::string> names;
  for (const auto& c : b->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu",
                                             "downsample"}));

  // ResNeXt-50 32x4d: width = int(64 * 4 / 64) * 32 = 128, grouped 3x3.
  auto rx = mm::resnext50_32x4d(uninit());
  auto xb = rx->layer1->at<mm::BottleneckImpl>(0);
  EXPECT_EQ(xb->conv2->options().groups(), 32);
  EXPECT_EQ(xb->conv2->weight.sizes(), (at::IntArrayRef{128, 4, 3, 3}));
  // ResNeXt-101 64x4d, layer4: width = int(512 * 4 / 64) * 64 = 2048.
  auto rx64 = mm::resnext101_64x4d(uninit());
  EXPECT_EQ(rx64->layer4->at<mm::BottleneckImpl>(0)->conv2->weight.sizes(),
            (at::IntArrayRef{2048, 32, 3, 3}));
  EXPECT_EQ(rx64->layer3->size(), 23u);
  // Wide ResNet-50-2: width = int(64 * 128 / 64) = 128, ungrouped.
  auto w = mm::wide_resnet50_2(uninit());
  auto wb = w->layer1->at<mm::BottleneckImpl>(0);
  EXPECT_EQ(wb->conv2->options().groups(), 1);
  EXPECT_EQ(wb->conv1->weight.sizes(), (at::IntArrayRef{128, 64, 1, 1}));
  EXPECT_EQ(wb->conv3->weight.sizes(), (at::IntArrayRef{256, 128, 1, 1}));
  EXPECT_EQ(mm::resnet152(uninit())->layer3->size(), 36u);
}

TEST(ResNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::resnet50(mm::ArchArgs{1000, true, {}});
  // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (out * k * k)).
  auto conv2 = m->layer3->at<mm::BottleneckImpl>(1)->conv2;  // 256 -> 256, 3x3
  const double want = std::sqrt(2.0 / (256 * 9));
  EXPECT_NEAR(conv2->weight.std().item<double>(), want, 0.03 * want);
  EXPECT_NEAR(conv2->weight.mean().item<double>(), 0.0, 0.03 * want);
  const double want_stem = std::sqrt(2.0 / (64 * 49));
  EXPECT_NEAR(m->conv1->weight.std().item<double>(), want_stem, 0.05 * want_stem);
  auto bn3 = m->layer3->at<mm::BottleneckImpl>(1)->bn3;
  EXPECT_TRUE(at::equal(bn3->weight, at::ones({1024})));
  EXPECT_TRUE(at::equal(bn3->bias, at::zeros({1024})));
  EXPECT_TRUE(at::equal(bn3->running_var, at::ones({1024})));
  // fc keeps nn.Linear's default: U(-1/sqrt(2048), 1/sqrt(2048)) for weight and bias.
  const double bound = 1.0 / std::sqrt(2048.0);
  EXPECT_LE(m->fc->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(m->fc->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_LE(m->fc->bias.abs().max().item<double>(), bound);
  EXPECT_GT(m->fc->bias.abs().max().item<double>(), 0.5 * bound);

  // zero_init_residual zeroes the last BN weight of every residual branch only.
  auto z = mm::resnet50(mm::ArchArgs{1000, true, {{"zero_init_residual", true}}});
  for (std::size_t i = 0; i < z->layer2->size(); ++i) {
    auto blk = z->layer2->at<mm::BottleneckImpl>(i);
    EXPECT_TRUE(at::equal(blk->bn3->weight, at::zeros({512}))) << i;
    EXPECT_TRUE(at::equal(blk->bn2->weight, at::ones({128}))) << i;
  }
  EXPECT_TRUE(at::equal(z->layer2->at<mm::BottleneckImpl>(0)->downsample->at<mm::BatchNorm2dImpl>(1)->weight,
                        at::ones({512})));
  auto zb = mm::resnet18(mm::ArchArgs{1000, true, {{"zero_init_residual", true}}});
  EXPECT_TRUE(at::equal(zb->layer1->at<mm::BasicBlockImpl>(1)->bn2->weight, at::zeros({64})));
  EXPECT_TRUE(at::equal(zb->layer1->at<mm::BasicBlockImpl>(1)->bn1->weight, at::ones({64})));
  // A zero-initialised residual block is the identity followed by relu.
  zb->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({1, 64, 8, 8});
  EXPECT_TRUE(at::allclose(zb->layer1->forward(x), x));
}

TEST(ResNet, ReplaceStrideWithDilation) {
  auto m = mm::resnet50(uninit(1000, {{"replace_stride_with_dilation", {false, true, true}}}));
  auto l2 = m->layer2->at<mm::BottleneckImpl>(0);
  EXPECT_EQ((*l2->conv2->options().stride())[0], 2);
  EXPECT_EQ((*l2->conv2->options().dilation())[0], 1);
  // layer3: stride 1; its first block keeps the previous dilation (1), the rest use 2.
  auto l3a = m->layer3->at<mm::BottleneckImpl>(0);
  auto l3b = m->layer3->at<mm::BottleneckImpl>(1);
  EXPECT_EQ((*l3a->conv2->options().stride())[0], 1);
  EXPECT_EQ((*l3a->conv2->options().dilation())[0], 1);
  EXPECT_EQ((*l3b->conv2->options().dilation())[0], 2);
  EXPECT_EQ((*l3b->conv2->options().padding())[0], 2);
  EXPECT_EQ((*l3a->downsample->at<mm::Conv2dImpl>(0)->options().stride())[0], 1);
  // layer4: first block dilation 2, the rest 4.
  EXPECT_EQ((*m->layer4->at<mm::BottleneckImpl>(0)->conv2->options().dilation())[0], 2);
  EXPECT_EQ((*m->layer4->at<mm::BottleneckImpl>(2)->conv2->options().dilation())[0], 4);
  // The same weights fit: dilation changes no shape.
  auto plain = mm::resnet50(uninit());
  EXPECT_TRUE(modelzoo::state_dict::load_state_dict(*m, modelzoo::state_dict::state_dict(*plain)).ok());
  // Output stride 8 instead of 32.
  m->eval();
  at::NoGradGuard no_grad;
  for (auto& p : m->parameters()) p.normal_(0, 0.01);
  auto t = m->maxpool->forward(m->relu->forward(m->bn1->forward(m->conv1->forward(at::rand({1, 3, 64, 64})))));
  t = m->layer4->forward(m->layer3->forward(m->layer2->forward(m->layer1->forward(t))));
  EXPECT_EQ(t.sizes(), (at::IntArrayRef{1, 2048, 8, 8}));

  EXPECT_HAS(error_of([] { mm::resnet18(uninit(1000, {{"replace_stride_with_dilation", {false, false, true}}})); }),
             "BasicBlock does not support dilation > 1, got dilation=2");
  EXPECT_HAS(error_of([] { mm::resnet50(uninit(1000, {{"replace_stride_with_dilation", {true}}})); }),
             "resnet50: extra argument 'replace_stride_with_dilation' must be a list of 3 booleans, got [true]");
}

TEST(ResNet, BuilderArguments) {
  // torchvision's _ovewrite_named_param: the architecture's own value is accepted, another refused.
  auto rx = mm::resnext50_32x4d(uninit(1000, {{"groups", 32}, {"width_per_group", 4}}));
  EXPECT_EQ(rx->options().groups(), 32);
  EXPECT_HAS(error_of([] { mm::resnext50_32x4d(uninit(1000, {{"groups", 16}})); }),
             "resnext50_32x4d: extra argument 'groups' is fixed to 32 by this architecture, got 16");
  EXPECT_HAS(error_of([] { mm::wide_resnet50_2(uninit(1000, {{"width_per_group", 64}})); }),
             "wide_resnet50_2: extra argument 'width_per_group' is fixed to 128");
  // A plain ResNet-50 can be turned into a ResNeXt, as resnet50(groups=32, width_per_group=4).
  auto g = mm::resnet50(uninit(1000, {{"groups", 32}, {"width_per_group", 4}}));
  EXPECT_EQ(g->layer1->at<mm::BottleneckImpl>(0)->conv2->weight.sizes(), (at::IntArrayRef{128, 4, 3, 3}));
  EXPECT_HAS(error_of([] { mm::resnet18(uninit(1000, {{"groups", 2}})); }),
             "BasicBlock only supports groups=1 and base_width=64, got groups=2 base_width=64");
  EXPECT_HAS(error_of([] { mm::resnet50(uninit(1000, {{"groups", 2.5}})); }),
             "resnet50: extra argument 'groups' must be an integer, got 2.5");
  EXPECT_HAS(error_of([] { mm::resnet34(uninit(1000, {{"dropout", 0.2}})); }),
             "resnet34: unknown extra argument 'dropout'");
  EXPECT_HAS(error_of([] { mm::resnet34(uninit(1000, {{"zero_init_residual", 1}})); }),
             "resnet34: extra argument 'zero_init_residual' must be true or false, got 1");
  // The hub passes the weights' min_size as image_size; it changes nothing here.
  EXPECT_EQ(mm::resnet18(uninit(7, {{"image_size", 1}}))->fc->weight.size(0), 7);
  EXPECT_EQ(mm::build_architecture("wide_resnet101_2", uninit(3))->parameters().back().size(0), 3);
}

TEST(ResNet, BadOptionsAreRefused) {
  using O = mm::ResNetOptions;
  const auto B = mm::ResNetBlock::Bottleneck;
  EXPECT_HAS(error_of([&] { mm::ResNet(O(B, {3, 4, 6}).init_weights(false)); }),
             "ResNet: layers must hold 4 block counts, got 3");
  EXPECT_HAS(error_of([&] { mm::ResNet(O(B, {3, 0, 6, 3}).init_weights(false)); }),
             "ResNet: every entry of layers must be at least 1, got 0");
  EXPECT_HAS(error_of([&] { mm::ResNet(O(B, {1, 1, 1, 1}).num_classes(0)); }),
             "ResNet: num_classes must be at least 1, got 0");
  EXPECT_HAS(error_of([&] { mm::ResNet(O(B, {1, 1, 1, 1}).width_per_group(0)); }),
             "ResNet: width_per_group must be at least 1, got 0");
  EXPECT_HAS(error_of([] {
               mm::Bottleneck(mm::ResNetBlockOptions(64, 1).base_width(32), mm::Sequential(nullptr),
                              mm::InitPolicy::uninitialised());
             }),
             "Bottleneck: planes=1 with base_width=32 gives an inner width of 0");
  EXPECT_HAS(error_of([] {
               mm::BasicBlock(mm::ResNetBlockOptions(64, 64).stride(0), mm::Sequential(nullptr),
                              mm::InitPolicy::uninitialised());
             }),
             "BasicBlock: stride must be at least 1, got 0");
}

TEST(ResNet, ForwardShapesAndModes) {
  at::manual_seed(1);
  auto m = mm::resnet18(mm::ArchArgs{5, true, {}});
  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 48, 40});
  const at::Tensor x_copy = x.clone();
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_TRUE(at::equal(a, m->forward(x))) << "eval mode is deterministic";
  EXPECT_TRUE(at::equal(x, x_copy)) << "the input is not modified in place";
  // torchvision's minimum input size is 1 x 1.
  EXPECT_EQ(m->forward(at::randn({1, 3, 1, 1})).sizes(), (at::IntArrayRef{1, 5}));
  // Training mode: batch statistics, running statistics updated.
  m->train();
  const at::Tensor before = m->bn1->running_mean.clone();
  m->forward(x);
  EXPECT_FALSE(at::equal(before, m->bn1->running_mean));
  EXPECT_EQ(m->layer4->at<mm::BasicBlockImpl>(1)->bn2->num_batches_tracked.item<int64_t>(), 1);
  m->eval();
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 1, 32, 32})); }), "expected 3 input channels");
  EXPECT_HAS(error_of([&] { m->forward(at::randn({3, 32, 32})); }),
             "ResNet: expected input of shape N x 3 x H x W, got [3, 32, 32]");
}

// Numeric parity where the shared table does not reach: a grouped,
// dilated Bottleneck network (ResNeXt-50 with replace_stride_with_dilation).
TEST(ResNet, DilatedResNeXtMatchesTorchvision) {
  const nlohmann::json kwargs = {{"replace_stride_with_dilation", {false, true, true}}};
  EXPECT_LE(mz_test::parity("resnext50_32x4d", 32, kwargs), 1e-4);
}
