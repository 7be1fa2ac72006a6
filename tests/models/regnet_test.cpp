// RegNet X and Y: BlockParams against torchvision's from_init_params for all
// fifteen architectures, block structure (projection, groups, SE width),
// initialisation, builder arguments, and numeric parity with torchvision for
// the smallest X and Y. The state_dict layout of every architecture is
// checked against its golden in models_test.cpp; the parity of every
// architecture (regnet_y_128gf included) runs under `slow`.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/regnet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

struct Params {
  std::string name;
  int64_t depth, w_0;
  double w_a, w_m;
  int64_t group_width;
  bool se;
};

// The arguments torchvision's builders pass to BlockParams.from_init_params.
const std::vector<Params> kRegNets = {
    {"regnet_x_400mf", 22, 24, 24.48, 2.54, 16, false},   {"regnet_x_800mf", 16, 56, 35.73, 2.28, 16, false},
    {"regnet_x_1_6gf", 18, 80, 34.01, 2.25, 24, false},   {"regnet_x_3_2gf", 25, 88, 26.31, 2.25, 48, false},
    {"regnet_x_8gf", 23, 80, 49.56, 2.88, 120, false},    {"regnet_x_16gf", 22, 216, 55.59, 2.1, 128, false},
    {"regnet_x_32gf", 23, 320, 69.86, 2.0, 168, false},   {"regnet_y_400mf", 16, 48, 27.89, 2.09, 8, true},
    {"regnet_y_800mf", 14, 56, 38.84, 2.4, 16, true},     {"regnet_y_1_6gf", 27, 48, 20.71, 2.65, 24, true},
    {"regnet_y_3_2gf", 21, 80, 42.63, 2.66, 24, true},    {"regnet_y_8gf", 17, 192, 76.82, 2.19, 56, true},
    {"regnet_y_16gf", 18, 200, 106.23, 2.48, 112, true},  {"regnet_y_32gf", 20, 232, 115.89, 2.53, 232, true},
    {"regnet_y_128gf", 27, 456, 160.83, 2.52, 264, true},
};

std::string py_float(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

TEST(RegNet, BlockParamsMatchTorchvision) {
  std::string script =
      "import json\nfrom torchvision.models.regnet import BlockParams\nout = {}\n";
  for (const auto& p : kRegNets) {
    script += "b = BlockParams.from_init_params(depth=" + std::to_string(p.depth) +
              ", w_0=" + std::to_string(p.w_0) + ", w_a=" + py_float(p.w_a) + ", w_m=" + py_float(p.w_m) +
              ", group_width=" + std::to_string(p.group_width) + (p.se ? ", se_ratio=0.25" : "") + ")\n" +
              "out['" + p.name + "'] = [b.depths, b.widths, b.group_widths, b.bottleneck_multipliers, "
              "b.strides, b.se_ratio]\n";
  }
  script += "print(json.dumps(out))\n";
  const auto run = mz_test::run_command(std::string(mz_test::python()) + " -c " + mz_test::shell_quote(script));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const auto want = nlohmann::json::parse(run.out);
  for (const auto& p : kRegNets) {
    const auto bp = mm::BlockParams::from_init_params(p.depth, p.w_0, p.w_a, p.w_m, p.group_width, 1.0,
                                                      p.se ? c10::optional<double>(0.25) : c10::nullopt);
    const auto& w = want.at(p.name);
    EXPECT_EQ(bp.depths, w[0].get<std::vector<int64_t>>()) << p.name;
    EXPECT_EQ(bp.widths, w[1].get<std::vector<int64_t>>()) << p.name;
    EXPECT_EQ(bp.group_widths, w[2].get<std::vector<int64_t>>()) << p.name;
    EXPECT_EQ(bp.bottleneck_multipliers, w[3].get<std::vector<double>>()) << p.name;
    EXPECT_EQ(bp.strides, w[4].get<std::vector<int64_t>>()) << p.name;
    EXPECT_EQ(bp.se_ratio.has_value(), !w[5].is_null()) << p.name;
    EXPECT_EQ(bp.num_stages(), 4u) << p.name;
  }
  EXPECT_HAS(error_of([] { mm::BlockParams::from_init_params(10, 20, 10.0, 2.0, 8); }),
             "RegNet: invalid settings w_0=20");
  EXPECT_HAS(error_of([] { mm::BlockParams::from_init_params(10, 24, 10.0, 1.0, 8); }),
             "expected w_a >= 0, w_0 > 0 and a multiple of 8, w_m > 1");
  EXPECT_HAS(error_of([] { mm::BlockParams::from_init_params(0, 24, 10.0, 2.0, 8); }),
             "RegNet: depth (0), group_width (8) and bottleneck_multiplier (1.000000) must be positive");
}

TEST(RegNet, CatalogListsEveryArchitecture) {
  for (const auto& p : kRegNets) {
    const mm::ArchInfo* info = mm::find_architecture(p.name);
    ASSERT_NE(info, nullptr) << p.name;
    EXPECT_EQ(info->family, "regnet");
    if (p.name == "regnet_y_128gf") continue;  // ~645M parameters: built only under `slow`
    mm::Classifier model = info->build(uninit(10));
    auto* r = dynamic_cast<mm::RegNetImpl*>(model.get());
    ASSERT_NE(r, nullptr) << p.name;
    EXPECT_EQ(r->fc->weight.size(0), 10);
    EXPECT_EQ(r->options().block_params().se_ratio.has_value(), p.se) << p.name;
  }
}

TEST(RegNet, BlockStructureAsTorchvision) {
  // regnet_y_400mf: depths [1, 3, 6, 6], widths [48, 104, 208, 440], group width 8.
  auto m = mm::regnet_y_400mf(uninit());
  std::vector<std::string> names;
  for (const auto& c : m->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "trunk_output", "avgpool", "fc"}));
  names.clear();
  for (const auto& c : m->trunk_output->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"block1", "block2", "block3", "block4"}));
  auto stage2 = m->trunk_output->at<mm::SequentialImpl>(1);
  names.clear();
  for (const auto& c : stage2->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"block2-0", "block2-1", "block2-2"}));

  EXPECT_EQ(m->stem->conv->weight.sizes(), (at::IntArrayRef{32, 3, 3, 3}));
  EXPECT_EQ((*m->stem->conv->options().stride())[0], 2);

  auto first = stage2->at<mm::ResBottleneckBlockImpl>(0);  // 48 -> 104, stride 2
  ASSERT_TRUE(first->proj);
  EXPECT_EQ(first->proj->conv->weight.sizes(), (at::IntArrayRef{104, 48, 1, 1}));
  EXPECT_EQ((*first->proj->conv->options().stride())[0], 2);
  names.clear();
  for (const auto& c : first->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"proj", "f", "activation"}));
  names.clear();
  for (const auto& c : first->f->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "se", "c"}));
  auto b = first->f->at<mm::Conv2dNormActivationImpl>(1);
  EXPECT_EQ(b->conv->options().groups(), 13);  // 104 / 8
  EXPECT_EQ((*b->conv->options().stride())[0], 2);
  auto se = first->f->at<mm::SqueezeExcitationImpl>(2);
  EXPECT_EQ(se->fc1->weight.sizes(), (at::IntArrayRef{12, 104, 1, 1}));  // round(0.25 * 48)
  EXPECT_NE(std::dynamic_pointer_cast<mm::ReLUImpl>(se->activation), nullptr);
  EXPECT_EQ(first->f->at<mm::Conv2dNormActivationImpl>(3)->activation, nullptr);
  EXPECT_FALSE(stage2->at<mm::ResBottleneckBlockImpl>(1)->proj) << "104 -> 104 at stride 1";
  EXPECT_EQ(m->fc->weight.sizes(), (at::IntArrayRef{1000, 440}));

  // X: no SE.
  auto x = mm::regnet_x_400mf(uninit());
  auto xf = x->trunk_output->at<mm::SequentialImpl>(0)->at<mm::ResBottleneckBlockImpl>(0)->f;
  names.clear();
  for (const auto& c : xf->named_children()) names.push_back(c.key());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(RegNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::regnet_y_800mf(mm::ArchArgs{1000, true, {}});
  auto blk = m->trunk_output->at<mm::SequentialImpl>(3)->at<mm::ResBottleneckBlockImpl>(0);
  // normal(0, sqrt(2 / fan_out)), fan_out = k * k * out_channels.
  auto c = blk->f->at<mm::Conv2dNormActivationImpl>(0)->conv;
  const double want = std::sqrt(2.0 / static_cast<double>(c->weight.size(0)));
  EXPECT_NEAR(c->weight.std().item<double>(), want, 0.03 * want);
  // SE convolutions keep nn.Conv2d's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto se = blk->f->at<mm::SqueezeExcitationImpl>(2);
  const double bound = 1.0 / std::sqrt(static_cast<double>(se->fc1->weight.size(1)));
  EXPECT_LE(se->fc1->bias.abs().max().item<double>(), bound);
  EXPECT_GT(se->fc1->bias.abs().max().item<double>(), 0.3 * bound);
  auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(blk->f->at<mm::Conv2dNormActivationImpl>(3)->norm);
  EXPECT_TRUE(at::equal(bn->weight, at::ones_like(bn->weight)));
  EXPECT_DOUBLE_EQ(bn->options().eps(), 1e-5);
  EXPECT_DOUBLE_EQ(*bn->options().momentum(), 0.1);
  EXPECT_NEAR(m->fc->weight.std().item<double>(), 0.01, 0.0003);
  EXPECT_TRUE(at::equal(m->fc->bias, at::zeros_like(m->fc->bias)));
}

TEST(RegNet, ForwardArgumentsAndBadOptions) {
  auto m = mm::regnet_x_400mf(mm::ArchArgs{3, true, {{"image_size", 384}}});
  m->eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(m->forward(at::randn({2, 3, 1, 1})).sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_EQ(m->forward(at::randn({1, 3, 45, 37})).sizes(), (at::IntArrayRef{1, 3}));
  EXPECT_HAS(error_of([] { mm::regnet_y_400mf(uninit(1000, {{"se_ratio", 0.5}})); }),
             "regnet_y_400mf: unknown extra argument 'se_ratio' (accepted: image_size)");
  EXPECT_HAS(error_of([] { mm::regnet_x_400mf(uninit(0)); }), "RegNet: num_classes must be at least 1, got 0");
  mm::BlockParams none;
  EXPECT_HAS(error_of([&] { mm::RegNet(mm::RegNetOptions(none)); }), "RegNet: block parameters describe no stage");
  mm::BlockParams odd = mm::BlockParams::from_init_params(16, 48, 27.89, 2.09, 8);
  odd.group_widths[0] = 7;  // 48 is not divisible into groups of 7
  EXPECT_HAS(error_of([&] { mm::RegNet(mm::RegNetOptions(odd).init_weights(false)); }),
             "RegNet: bottleneck width 48 is not divisible by the group width 7");
}

TEST(RegNet, MatchesTorchvisionX400mfAndY400mf) {
  for (const std::string arch : {"regnet_x_400mf", "regnet_y_400mf"}) {
    EXPECT_LE(mz_test::parity(arch, 64, {{"num_classes", 12}}), 1e-4) << arch;
  }
}
