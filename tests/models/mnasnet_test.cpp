// MNASNet: depth scaling, structure, BatchNorm momentum, the version-1 stem,
// initialisation and builder arguments. Numeric parity runs in the shared
// parity table (parity_test.cpp); the state_dict layout of every architecture
// is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/mnasnet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

}  // namespace

TEST(MNASNet, CatalogListsEveryArchitecture) {
  const std::vector<std::pair<std::string, double>> archs = {
      {"mnasnet0_5", 0.5}, {"mnasnet0_75", 0.75}, {"mnasnet1_0", 1.0}, {"mnasnet1_3", 1.3}};
  for (const auto& [name, alpha] : archs) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "mnasnet");
    mm::Classifier model = info->build(uninit(10, {{"image_size", 1}}));
    auto* m = dynamic_cast<mm::MNASNetImpl*>(model.get());
    ASSERT_NE(m, nullptr) << name;
    EXPECT_DOUBLE_EQ(m->options().alpha(), alpha);
    EXPECT_EQ(m->options().version(), 2);
  }
}

TEST(MNASNet, DepthsMatchTorchvision) {
  // torchvision.models.mnasnet._get_depths.
  EXPECT_EQ(mm::mnasnet_depths(0.5), (std::vector<int64_t>{16, 8, 16, 24, 40, 48, 96, 160}));
  EXPECT_EQ(mm::mnasnet_depths(0.75), (std::vector<int64_t>{24, 16, 24, 32, 64, 72, 144, 240}));
  EXPECT_EQ(mm::mnasnet_depths(1.0), (std::vector<int64_t>{32, 16, 24, 40, 80, 96, 192, 320}));
  EXPECT_EQ(mm::mnasnet_depths(1.3), (std::vector<int64_t>{40, 24, 32, 56, 104, 128, 248, 416}));
  EXPECT_HAS(error_of([] { mm::mnasnet_depths(0.0); }), "alpha must be positive, got 0");
}

TEST(MNASNet, Layout) {
  auto m = mm::mnasnet1_0(uninit(10));
  ASSERT_EQ(m->layers->size(), 17u);
  EXPECT_EQ(m->layers->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{32, 3, 3, 3}));
  EXPECT_EQ(m->layers->at<mm::Conv2dImpl>(3)->options().groups(), 32);
  EXPECT_NE(m->layers->at<mm::ReLUImpl>(5), nullptr);
  // BatchNorm momentum 1 - 0.9997 everywhere (stem, blocks, head).
  EXPECT_NEAR(*m->layers->at<mm::BatchNorm2dImpl>(1)->options().momentum(), 0.0003, 1e-12);
  EXPECT_DOUBLE_EQ(m->layers->at<mm::BatchNorm2dImpl>(1)->options().eps(), 1e-5);
  // Stacks: repeats 3, 3, 3, 2, 4, 1.
  const std::vector<std::size_t> repeats = {3, 3, 3, 2, 4, 1};
  for (std::size_t i = 0; i < repeats.size(); ++i) {
    EXPECT_EQ(m->layers->at<mm::SequentialImpl>(8 + i)->size(), repeats[i]) << "stack " << i;
  }
  auto first = m->layers->at<mm::SequentialImpl>(9)->at<mm::MNASNetInvertedResidualImpl>(0);
  EXPECT_FALSE(first->apply_residual());
  auto dw = first->layers->at<mm::Conv2dImpl>(3);
  EXPECT_EQ(dw->weight.sizes(), (at::IntArrayRef{72, 1, 5, 5}));  // 24 * 3, kernel 5
  EXPECT_EQ((*dw->options().stride())[0], 2);
  EXPECT_EQ((*dw->options().padding())[0], 2);
  EXPECT_NEAR(*first->layers->at<mm::BatchNorm2dImpl>(7)->options().momentum(), 0.0003, 1e-12);
  EXPECT_TRUE(m->layers->at<mm::SequentialImpl>(9)->at<mm::MNASNetInvertedResidualImpl>(1)->apply_residual());
  EXPECT_EQ(m->layers->at<mm::Conv2dImpl>(14)->weight.sizes(), (at::IntArrayRef{1280, 320, 1, 1}));
  ASSERT_EQ(m->classifier->size(), 2u);
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.2);
  EXPECT_EQ(m->classifier->at<mm::LinearImpl>(1)->weight.sizes(), (at::IntArrayRef{10, 1280}));
}

TEST(MNASNet, VersionOneStemForOldCheckpoints) {
  // Version 2 (current) scales the stem with alpha; version 1 kept 32 / 16.
  auto v2 = mm::mnasnet0_5(uninit());
  EXPECT_EQ(v2->layers->at<mm::Conv2dImpl>(0)->weight.size(0), 16);
  EXPECT_EQ(v2->layers->at<mm::Conv2dImpl>(6)->weight.sizes(), (at::IntArrayRef{8, 16, 1, 1}));
  auto v1 = mm::mnasnet0_5(uninit(1000, {{"version", 1}}));
  EXPECT_EQ(v1->layers->at<mm::Conv2dImpl>(0)->weight.size(0), 32);
  EXPECT_EQ(v1->layers->at<mm::Conv2dImpl>(6)->weight.sizes(), (at::IntArrayRef{16, 32, 1, 1}));
  auto stack0 = v1->layers->at<mm::SequentialImpl>(8)->at<mm::MNASNetInvertedResidualImpl>(0);
  EXPECT_EQ(stack0->layers->at<mm::Conv2dImpl>(0)->weight.sizes(), (at::IntArrayRef{48, 16, 1, 1}));
  // From layer 9 on both versions agree.
  const auto a = modelzoo::state_dict::state_dict(*v1), b = modelzoo::state_dict::state_dict(*v2);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key().rfind("layers.9.", 0) == 0 || a[i].key().rfind("classifier.", 0) == 0) {
      EXPECT_EQ(a[i].value().sizes(), b[i].value().sizes()) << a[i].key();
    }
  }
  // For alpha 1.0 the two stems are the same.
  EXPECT_EQ(mm::mnasnet1_0(uninit(1000, {{"version", 1}}))->layers->at<mm::Conv2dImpl>(6)->weight.sizes(),
            mm::mnasnet1_0(uninit())->layers->at<mm::Conv2dImpl>(6)->weight.sizes());
  EXPECT_HAS(error_of([] { mm::mnasnet0_5(uninit(10, {{"version", 3}})); }),
             "mnasnet0_5: extra argument 'version' must be 1 or 2, got 3");
}

TEST(MNASNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::mnasnet1_0(mm::ArchArgs{});
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / fan_out).
  const at::Tensor w = m->layers->at<mm::Conv2dImpl>(14)->weight;  // 320 -> 1280
  const double want = std::sqrt(2.0 / 1280);
  EXPECT_NEAR(w.std().item<double>(), want, 0.03 * want);
  // kaiming_uniform_(fan_out, sigmoid): U(-b, b), b = sqrt(3 / fan_out), fan_out = 1000.
  auto fc = m->classifier->at<mm::LinearImpl>(1);
  const double bound = std::sqrt(3.0 / 1000);
  EXPECT_LE(fc->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(fc->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_TRUE(at::equal(fc->bias, at::zeros({1000})));
}

TEST(MNASNet, ForwardAndBadArguments) {
  auto m = mm::mnasnet0_5(mm::ArchArgs{4, true, {{"dropout", 0.5}}});
  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 32, 32});
  EXPECT_EQ(m->forward(x).sizes(), (at::IntArrayRef{2, 4}));
  EXPECT_TRUE(at::equal(m->forward(x), m->forward(x)));
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.5);
  EXPECT_HAS(error_of([] { mm::mnasnet1_3(uninit(10, {{"alpha", 2}})); }),
             "mnasnet1_3: unknown extra argument 'alpha'");
  EXPECT_HAS(error_of([] { mm::MNASNet(mm::MNASNetOptions(-1.0)); }), "alpha must be positive, got -1");
  EXPECT_HAS(error_of([] { mm::MNASNetInvertedResidual(8, 8, 7, 1, 3, 0.1, mm::InitPolicy::uninitialised()); }),
             "kernel_size must be 3 or 5, got 7");
}
