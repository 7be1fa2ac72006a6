// EfficientNet B0-B7 and V2 S/M/L: stage tables against torchvision's
// _efficientnet_conf, block structure, BatchNorm settings and dropout per
// variant, initialisation, builder arguments, and numeric parity with
// torchvision for B0 (MBConv) and V2-S (FusedMBConv, eps 1e-3). The
// state_dict layout of every architecture is checked against its golden in
// models_test.cpp; the parity of every architecture runs under `slow`.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/efficientnet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

struct Variant {
  std::string name;
  double width, depth, dropout, eps, momentum;
};

// torchvision's builders: multipliers, dropout and norm_layer per variant.
const std::vector<Variant> kVariants = {
    {"efficientnet_b0", 1.0, 1.0, 0.2, 1e-5, 0.1},  {"efficientnet_b1", 1.0, 1.1, 0.2, 1e-5, 0.1},
    {"efficientnet_b2", 1.1, 1.2, 0.3, 1e-5, 0.1},  {"efficientnet_b3", 1.2, 1.4, 0.3, 1e-5, 0.1},
    {"efficientnet_b4", 1.4, 1.8, 0.4, 1e-5, 0.1},  {"efficientnet_b5", 1.6, 2.2, 0.4, 1e-3, 0.01},
    {"efficientnet_b6", 1.8, 2.6, 0.5, 1e-3, 0.01}, {"efficientnet_b7", 2.0, 3.1, 0.5, 1e-3, 0.01},
    {"efficientnet_v2_s", 1, 1, 0.2, 1e-3, 0.1},    {"efficientnet_v2_m", 1, 1, 0.3, 1e-3, 0.1},
    {"efficientnet_v2_l", 1, 1, 0.4, 1e-3, 0.1},
};

mm::EfficientNet build(const std::string& name, const mm::ArchArgs& args) {
  mm::Classifier c = mm::build_architecture(name, args);
  auto impl = std::dynamic_pointer_cast<mm::EfficientNetImpl>(c.ptr());
  if (!impl) throw std::runtime_error(name + " is not an EfficientNet");
  return mm::EfficientNet(impl);
}

std::shared_ptr<mm::BatchNorm2dImpl> first_bn(const mm::EfficientNet& m) {
  return std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(
      m->features->at<mm::Conv2dNormActivationImpl>(0)->norm);
}

}  // namespace

TEST(EfficientNet, StageTablesMatchTorchvision) {
  // torchvision's own _efficientnet_conf for every variant, as JSON.
  std::string script =
      "import json, torchvision.models.efficientnet as E\n"
      "out = {}\n"
      "for name, w, d in " ;
  std::string triples = "[";
  for (const auto& v : kVariants) {
    triples += "('" + v.name + "', " + std::to_string(v.width) + ", " + std::to_string(v.depth) + "),";
  }
  script += triples + "]:\n"
            "    kw = dict(width_mult=w, depth_mult=d) if name.startswith('efficientnet_b') else {}\n"
            "    s, last = E._efficientnet_conf(name, **kw)\n"
            "    out[name] = {'last': last, 'stages': [[c.expand_ratio, c.kernel, c.stride, c.input_channels,\n"
            "        c.out_channels, c.num_layers, type(c).__name__ == 'FusedMBConvConfig'] for c in s]}\n"
            "print(json.dumps(out))\n";
  const auto run = mz_test::run_command(std::string(mz_test::python()) + " -c " + mz_test::shell_quote(script));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const auto want = nlohmann::json::parse(run.out);
  for (const auto& v : kVariants) {
    const auto [stages, last] = mm::efficientnet_config(v.name, v.width, v.depth);
    const auto& w = want.at(v.name);
    if (w.at("last").is_null()) {
      EXPECT_FALSE(last.has_value()) << v.name;
    } else {
      ASSERT_TRUE(last.has_value()) << v.name;
      EXPECT_EQ(*last, w.at("last").get<int64_t>()) << v.name;
    }
    ASSERT_EQ(stages.size(), w.at("stages").size()) << v.name;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const auto& ws = w.at("stages")[i];
      const auto& s = stages[i];
      const std::string where = v.name + " stage " + std::to_string(i);
      EXPECT_DOUBLE_EQ(s.expand_ratio, ws[0].get<double>()) << where;
      EXPECT_EQ(s.kernel, ws[1].get<int64_t>()) << where;
      EXPECT_EQ(s.stride, ws[2].get<int64_t>()) << where;
      EXPECT_EQ(s.input_channels, ws[3].get<int64_t>()) << where;
      EXPECT_EQ(s.out_channels, ws[4].get<int64_t>()) << where;
      EXPECT_EQ(s.num_layers, ws[5].get<int64_t>()) << where;
      EXPECT_EQ(s.fused, ws[6].get<bool>()) << where;
    }
  }
  EXPECT_HAS(error_of([] { mm::efficientnet_config("efficientnet_v3"); }),
             "EfficientNet: unsupported model type 'efficientnet_v3'");
}

TEST(EfficientNet, CatalogNormAndDropoutPerVariant) {
  for (const auto& v : kVariants) {
    const mm::ArchInfo* info = mm::find_architecture(v.name);
    ASSERT_NE(info, nullptr) << v.name;
    EXPECT_EQ(info->family, "efficientnet");
    auto m = build(v.name, uninit(10));
    EXPECT_DOUBLE_EQ(m->options().dropout(), v.dropout) << v.name;
    EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), v.dropout) << v.name;
    EXPECT_EQ(m->classifier->at<mm::LinearImpl>(1)->weight.size(0), 10) << v.name;
    auto bn = first_bn(m);
    ASSERT_NE(bn, nullptr);
    EXPECT_DOUBLE_EQ(bn->options().eps(), v.eps) << v.name;
    EXPECT_DOUBLE_EQ(*bn->options().momentum(), v.momentum) << v.name;
    // The head's norm layer uses the same settings.
    auto head = m->features->at<mm::Conv2dNormActivationImpl>(m->features->size() - 1);
    EXPECT_DOUBLE_EQ(std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(head->norm)->options().eps(), v.eps);
  }
}

TEST(EfficientNet, BlockStructureAsTorchvision) {
  auto m = mm::efficientnet_b0(uninit());
  // stem, 7 stages, head.
  ASSERT_EQ(m->features->size(), 9u);
  std::vector<std::string> names;
  for (const auto& c : m->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"features", "avgpool", "classifier"}));

  // Stage 1 (expand ratio 1): no expansion conv, so block = [depthwise, se, project].
  auto s1 = m->features->at<mm::SequentialImpl>(1);
  auto b1 = s1->at<mm::EfficientNetMBConvImpl>(0);
  ASSERT_EQ(b1->block->size(), 3u);
  EXPECT_EQ(b1->block->at<mm::Conv2dNormActivationImpl>(0)->conv->options().groups(), 32);
  auto se1 = b1->block->at<mm::SqueezeExcitationImpl>(1);
  EXPECT_EQ(se1->fc1->weight.sizes(), (at::IntArrayRef{8, 32, 1, 1}));  // max(1, 32 / 4)
  EXPECT_NE(std::dynamic_pointer_cast<mm::SiLUImpl>(se1->activation), nullptr);
  EXPECT_EQ(b1->block->at<mm::Conv2dNormActivationImpl>(2)->activation, nullptr);
  EXPECT_FALSE(b1->use_res_connect());  // 32 -> 16

  // Stage 2, block 0: expand 16 -> 96, depthwise stride 2; block 1 is residual.
  auto s2 = m->features->at<mm::SequentialImpl>(2);
  ASSERT_EQ(s2->size(), 2u);
  auto b20 = s2->at<mm::EfficientNetMBConvImpl>(0);
  ASSERT_EQ(b20->block->size(), 4u);
  EXPECT_EQ(b20->block->at<mm::Conv2dNormActivationImpl>(0)->conv->weight.sizes(),
            (at::IntArrayRef{96, 16, 1, 1}));
  auto dw = b20->block->at<mm::Conv2dNormActivationImpl>(1)->conv;
  EXPECT_EQ((*dw->options().stride())[0], 2);
  EXPECT_EQ(dw->weight.sizes(), (at::IntArrayRef{96, 1, 3, 3}));
  EXPECT_EQ(b20->block->at<mm::SqueezeExcitationImpl>(2)->fc1->weight.size(0), 4);  // 16 / 4
  EXPECT_FALSE(b20->use_res_connect());
  auto b21 = s2->at<mm::EfficientNetMBConvImpl>(1);
  EXPECT_TRUE(b21->use_res_connect());
  EXPECT_EQ(b21->block->at<mm::Conv2dNormActivationImpl>(0)->conv->weight.sizes(),
            (at::IntArrayRef{144, 24, 1, 1}));

  // Stochastic depth grows linearly: block k of 16 gets 0.2 * k / 16.
  int k = 0;
  for (std::size_t s = 1; s <= 7; ++s) {
    auto stage = m->features->at<mm::SequentialImpl>(s);
    for (std::size_t i = 0; i < stage->size(); ++i, ++k) {
      EXPECT_DOUBLE_EQ(stage->at<mm::EfficientNetMBConvImpl>(i)->stochastic_depth->p(), 0.2 * k / 16.0)
          << "stage " << s << " block " << i;
    }
  }
  EXPECT_EQ(k, 16);
  // Head: 320 -> 1280 (4x), classifier 1280 -> 1000.
  auto head = m->features->at<mm::Conv2dNormActivationImpl>(8);
  EXPECT_EQ(head->conv->weight.sizes(), (at::IntArrayRef{1280, 320, 1, 1}));

  // V2-S: fused stages first; expand ratio 1 gives a single conv, 4 gives two.
  auto v2 = mm::efficientnet_v2_s(uninit());
  auto f0 = v2->features->at<mm::SequentialImpl>(1)->at<mm::FusedMBConvImpl>(0);
  ASSERT_EQ(f0->block->size(), 1u);
  EXPECT_TRUE(f0->use_res_connect());
  EXPECT_EQ(f0->block->at<mm::Conv2dNormActivationImpl>(0)->conv->weight.sizes(),
            (at::IntArrayRef{24, 24, 3, 3}));
  auto f1 = v2->features->at<mm::SequentialImpl>(2)->at<mm::FusedMBConvImpl>(0);
  ASSERT_EQ(f1->block->size(), 2u);
  EXPECT_EQ(f1->block->at<mm::Conv2dNormActivationImpl>(0)->conv->weight.sizes(),
            (at::IntArrayRef{96, 24, 3, 3}));
  EXPECT_EQ(f1->block->at<mm::Conv2dNormActivationImpl>(1)->activation, nullptr);
  EXPECT_NE(v2->features->at<mm::SequentialImpl>(4)->at<mm::EfficientNetMBConvImpl>(0), nullptr);
  EXPECT_EQ(v2->features->at<mm::Conv2dNormActivationImpl>(7)->conv->weight.sizes(),
            (at::IntArrayRef{1280, 256, 1, 1}));
}

TEST(EfficientNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::efficientnet_b0(mm::ArchArgs{1000, true, {}});
  // kaiming_normal_(mode="fan_out"): std = sqrt(2 / (out * k * k)).
  auto head = m->features->at<mm::Conv2dNormActivationImpl>(8);
  const double want = std::sqrt(2.0 / 1280.0);
  EXPECT_NEAR(head->conv->weight.std().item<double>(), want, 0.02 * want);
  auto se = m->features->at<mm::SequentialImpl>(6)->at<mm::EfficientNetMBConvImpl>(0)->block
                ->at<mm::SqueezeExcitationImpl>(2);
  EXPECT_TRUE(at::equal(se->fc1->bias, at::zeros_like(se->fc1->bias)));
  EXPECT_TRUE(at::equal(se->fc2->bias, at::zeros_like(se->fc2->bias)));
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(head->norm);
  EXPECT_TRUE(at::equal(bn->weight, at::ones({1280})));
  EXPECT_TRUE(at::equal(bn->bias, at::zeros({1280})));
  // Linear: U(-1/sqrt(out), 1/sqrt(out)), zero bias.
  auto fc = m->classifier->at<mm::LinearImpl>(1);
  const double bound = 1.0 / std::sqrt(1000.0);
  EXPECT_LE(fc->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(fc->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_TRUE(at::equal(fc->bias, at::zeros({1000})));
}

TEST(EfficientNet, ForwardModesAndSizes) {
  auto m = mm::efficientnet_b0(mm::ArchArgs{5, true, {}});
  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 40, 40});
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_TRUE(at::equal(a, m->forward(x))) << "eval mode is deterministic";
  m->train();
  EXPECT_FALSE(at::equal(m->forward(x), a)) << "training mode applies dropout and stochastic depth";
  m->eval();
  // min_size (1, 1): any spatial size works.
  EXPECT_EQ(m->forward(at::randn({1, 3, 1, 1})).sizes(), (at::IntArrayRef{1, 5}));
  EXPECT_EQ(m->forward(at::randn({1, 3, 33, 47})).sizes(), (at::IntArrayRef{1, 5}));
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 4, 32, 32})); }), "expected 3 input channels");
}

TEST(EfficientNet, BuilderArgumentsAndBadOptions) {
  auto m = mm::efficientnet_b3(uninit(7, {{"dropout", 0.1}, {"stochastic_depth_prob", 0.4}, {"image_size", 300}}));
  EXPECT_DOUBLE_EQ(m->classifier->at<mm::DropoutImpl>(0)->p(), 0.1);
  auto last_stage = m->features->at<mm::SequentialImpl>(7);
  const int64_t total = 26;  // ceil([1,2,2,3,3,4,1] * 1.4) = [2,3,3,5,5,6,2]
  auto last = last_stage->at<mm::EfficientNetMBConvImpl>(last_stage->size() - 1);
  EXPECT_DOUBLE_EQ(last->stochastic_depth->p(), 0.4 * (total - 1) / total);

  EXPECT_HAS(error_of([] { mm::efficientnet_b0(uninit(1000, {{"width", 2}})); }),
             "efficientnet_b0: unknown extra argument 'width' (accepted: dropout, stochastic_depth_prob, image_size)");
  EXPECT_HAS(error_of([] { mm::efficientnet_b0(uninit(1000, {{"dropout", "x"}})); }),
             "efficientnet_b0: extra argument 'dropout' must be a number");
  EXPECT_HAS(error_of([] { mm::efficientnet_b0(uninit(1000, {{"stochastic_depth_prob", 2}})); }),
             "EfficientNet: stochastic_depth_prob must be in [0, 1], got 2");
  EXPECT_HAS(error_of([] { mm::efficientnet_b0(uninit(0)); }), "num_classes must be at least 1, got 0");
  EXPECT_HAS(error_of([] { mm::EfficientNet(mm::EfficientNetOptions({}, 0.2)); }),
             "the inverted_residual_setting should not be empty");
  EXPECT_HAS(error_of([] {
               mm::EfficientNet(mm::EfficientNetOptions({mm::MBConvConfig::mbconv(6, 3, 3, 32, 16, 1)}, 0.2));
             }),
             "MBConv: illegal stride value 3 (expected 1 or 2)");
}

TEST(EfficientNet, MatchesTorchvisionB0AndV2S) {
  // B0 with a 10-class head; V2-S exercises FusedMBConv and eps 1e-3.
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"efficientnet_b0", {{"num_classes", 10}}}, {"efficientnet_v2_s", nlohmann::json::object()}};
  for (const auto& [arch, kwargs] : cases) {
    EXPECT_LE(mz_test::parity(arch, 64, kwargs), 1e-4) << arch;
  }
}
