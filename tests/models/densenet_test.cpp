// DenseNet: structure, initialisation, builder arguments, and the key renames
// the published weight files need (their dense layers say `norm.1`, `conv.2`
// where the model has `norm1`, `conv2`), checked numerically against
// torchvision with a state dict that uses the old names. The state_dict layout
// of every architecture is checked against its golden in models_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/densenet.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/torchvision_oracle.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
namespace sd = modelzoo::state_dict;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

std::vector<std::string> child_names(const torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& c : m.named_children()) out.push_back(c.key());
  return out;
}

sd::LoadOptions catalog_renames(const std::string& arch) {
  sd::LoadOptions o;
  for (const auto& [pattern, replacement] : mm::find_architecture(arch)->key_renames) {
    o.renames.push_back({pattern, replacement});
  }
  return o;
}

// The names the published files use: denselayerN.norm1 -> denselayerN.norm.1, etc.
std::string old_name(const std::string& key) {
  static const std::regex re(R"((.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var))");
  return std::regex_replace(key, re, "$1.$2.$3");
}

}  // namespace

TEST(DenseNet, CatalogListsEveryArchitectureWithTheOldKeyRenames) {
  for (const std::string name : {"densenet121", "densenet161", "densenet169", "densenet201"}) {
    const mm::ArchInfo* info = mm::find_architecture(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "densenet");
    EXPECT_EQ(info->key_renames, mm::densenet_key_renames()) << name;
    EXPECT_TRUE(info->ignored_keys.empty());
    mm::Classifier model = info->build(uninit(10));
    EXPECT_NE(dynamic_cast<mm::DenseNetImpl*>(model.get()), nullptr) << name;
  }
}

TEST(DenseNet, LayoutMatchesTorchvision) {
  auto m = mm::densenet121(uninit());
  EXPECT_EQ(child_names(*m), (std::vector<std::string>{"features", "classifier"}));
  EXPECT_EQ(child_names(*m->features),
            (std::vector<std::string>{"conv0", "norm0", "relu0", "pool0", "denseblock1", "transition1",
                                      "denseblock2", "transition2", "denseblock3", "transition3",
                                      "denseblock4", "norm5"}));
  auto block1 = m->features->at<mm::DenseBlockImpl>(4);
  ASSERT_EQ(block1->layers().size(), 6u);
  EXPECT_EQ(child_names(*block1).back(), "denselayer6");
  const auto& layer = block1->layers()[5];
  EXPECT_EQ(child_names(*layer),
            (std::vector<std::string>{"norm1", "relu1", "conv1", "norm2", "relu2", "conv2"}));
  // Layer i of a block sees num_input + i * growth channels; bottleneck bn_size * growth = 128.
  EXPECT_EQ(layer->conv1->weight.sizes(), (at::IntArrayRef{128, 64 + 5 * 32, 1, 1}));
  EXPECT_EQ(layer->conv2->weight.sizes(), (at::IntArrayRef{32, 128, 3, 3}));
  EXPECT_FALSE(layer->conv2->bias.defined());
  auto trans = m->features->at<mm::TransitionImpl>(5);
  EXPECT_EQ(child_names(*trans), (std::vector<std::string>{"norm", "relu", "conv", "pool"}));
  EXPECT_EQ(trans->conv->weight.sizes(), (at::IntArrayRef{128, 256, 1, 1}));  // halves 64 + 6 * 32
  // Final feature widths of the four architectures.
  EXPECT_EQ(m->classifier->weight.sizes(), (at::IntArrayRef{1000, 1024}));
  EXPECT_EQ(mm::densenet161(uninit())->classifier->weight.size(1), 2208);
  EXPECT_EQ(mm::densenet169(uninit())->classifier->weight.size(1), 1664);
  EXPECT_EQ(mm::densenet201(uninit())->classifier->weight.size(1), 1920);
  EXPECT_EQ(mm::densenet201(uninit())->features->at<mm::DenseBlockImpl>(8)->layers().size(), 48u);
}

TEST(DenseNet, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto m = mm::densenet121(mm::ArchArgs{1000, true, {}});
  // kaiming_normal_ with torch's defaults (fan_in, leaky_relu, a=0): std = sqrt(2 / fan_in).
  auto conv = m->features->at<mm::DenseBlockImpl>(6)->layers()[3]->conv2;  // 128 -> 32, 3x3
  const double want = std::sqrt(2.0 / (128 * 9));
  EXPECT_NEAR(conv->weight.std().item<double>(), want, 0.05 * want);
  auto norm5 = m->features->at<mm::BatchNorm2dImpl>(11);
  EXPECT_TRUE(at::equal(norm5->weight, at::ones({1024})));
  EXPECT_TRUE(at::equal(norm5->bias, at::zeros({1024})));
  // Linear: zero bias, weight keeps nn.Linear's default U(-1/sqrt(in), 1/sqrt(in)).
  EXPECT_TRUE(at::equal(m->classifier->bias, at::zeros({1000})));
  const double bound = 1.0 / std::sqrt(1024.0);
  EXPECT_LE(m->classifier->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(m->classifier->weight.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
}

TEST(DenseNet, OldKeyNamesAreRenamedAsTorchvisionDoes) {
  const auto renames = mm::densenet_key_renames();
  ASSERT_EQ(renames.size(), 1u);
  const std::regex re(renames[0].first);
  auto rename = [&](const std::string& k) {
    return std::regex_match(k, re) ? std::regex_replace(k, re, renames[0].second) : k;
  };
  EXPECT_EQ(rename("features.denseblock1.denselayer1.norm.1.weight"),
            "features.denseblock1.denselayer1.norm1.weight");
  EXPECT_EQ(rename("features.denseblock4.denselayer16.conv.2.weight"),
            "features.denseblock4.denselayer16.conv2.weight");
  EXPECT_EQ(rename("features.denseblock2.denselayer12.norm.2.running_var"),
            "features.denseblock2.denselayer12.norm2.running_var");
  EXPECT_EQ(rename("features.denseblock2.denselayer3.norm.1.running_mean"),
            "features.denseblock2.denselayer3.norm1.running_mean");
  // Untouched: current names, transitions, norm5, and anything but the four tensor kinds.
  for (const std::string k :
       {"features.denseblock1.denselayer1.norm1.weight", "features.transition1.norm.weight",
        "features.norm5.bias", "features.denseblock1.denselayer1.norm.1.num_batches_tracked",
        "features.denseblock1.denselayer1.norm.3.weight", "classifier.weight"}) {
    EXPECT_EQ(rename(k), k);
  }
}

// torchvision's weights under the old names (as the published files have
// them, without num_batches_tracked) load through the catalog's renames and
// give torchvision's output.
TEST(DenseNet, OldNamedWeightsLoadAndMatchTorchvision) {
  mz_test::TorchvisionCase c;
  ASSERT_TRUE(mz_test::run_torchvision("densenet121", 32, nlohmann::json::object(), &c));
  modelzoo::io::StateDict old_sd;
  std::size_t renamed = 0;
  for (const auto& item : c.weights) {
    if (item.key().find("num_batches_tracked") != std::string::npos) continue;
    const std::string k = old_name(item.key());
    renamed += k != item.key();
    old_sd.insert(k, item.value());
  }
  // 58 dense layers x (4 tensors in each of norm1, norm2 + 1 in each of conv1, conv2).
  EXPECT_EQ(renamed, 58u * 10);
  ASSERT_NE(old_sd.find("features.denseblock3.denselayer24.conv.2.weight"), nullptr);

  // Without the renames, a strict load names the old keys.
  auto plain = mm::densenet121(uninit());
  try {
    sd::load_state_dict(*plain, old_sd);
    ADD_FAILURE() << "strict load of old names without renames must fail";
  } catch (const modelzoo::LoadError& e) {
    EXPECT_HAS(std::string(e.what()), "features.denseblock1.denselayer1.norm.1.weight");
  }

  auto m = mm::densenet121(uninit());
  const auto report = sd::load_state_dict(*m, old_sd, catalog_renames("densenet121"));
  ASSERT_TRUE(report.ok()) << report.to_string();
  // Every BatchNorm's num_batches_tracked is defaulted: 2 per dense layer, norm0, norm5, 3 transitions.
  EXPECT_EQ(report.defaulted.size(), 58u * 2 + 2 + 3);
  m->eval();
  at::NoGradGuard no_grad;
  const at::Tensor out = m->forward(c.input);
  ASSERT_EQ(out.sizes(), c.expected.sizes());
  const double diff = mz_test::relative_diff(out, c.expected);
  std::cout << "[ parity ] densenet121 (old key names) 32x32: relative max |diff| = " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
}

TEST(DenseNet, BuilderArguments) {
  auto m = mm::densenet121(uninit(10, {{"bn_size", 2}, {"drop_rate", 0.2}, {"memory_efficient", false},
                                       {"image_size", 29}}));
  EXPECT_EQ(m->options().bn_size(), 2);
  EXPECT_DOUBLE_EQ(m->options().drop_rate(), 0.2);
  EXPECT_EQ(m->features->at<mm::DenseBlockImpl>(4)->layers()[0]->conv1->weight.size(0), 64);
  EXPECT_HAS(error_of([] { mm::densenet121(uninit(1000, {{"memory_efficient", true}})); }),
             "densenet121: extra argument 'memory_efficient' = true (gradient checkpointing) is not supported");
  EXPECT_HAS(error_of([] { mm::densenet169(uninit(1000, {{"growth_rate", 12}})); }),
             "densenet169: unknown extra argument 'growth_rate'");
  EXPECT_HAS(error_of([] { mm::densenet121(uninit(1000, {{"drop_rate", 1.5}})); }),
             "DenseNet: drop_rate must be in [0, 1], got 1.5");
  EXPECT_HAS(error_of([] { mm::densenet121(uninit(1000, {{"bn_size", "4"}})); }),
             "densenet121: extra argument 'bn_size' must be an integer, got \"4\"");
  EXPECT_HAS(error_of([] { mm::DenseNet(mm::DenseNetOptions().block_config({}).init_weights(false)); }),
             "DenseNet: block_config must hold at least one block");
  EXPECT_HAS(error_of([] { mm::DenseNet(mm::DenseNetOptions().growth_rate(0)); }),
             "DenseNet: growth_rate must be at least 1, got 0");
}

TEST(DenseNet, ForwardShapesAndModes) {
  at::manual_seed(2);
  // A small DenseNet keeps this quick; the forward is the same code.
  auto m = mm::DenseNet(mm::DenseNetOptions().growth_rate(8).block_config({2, 2, 2, 2}).num_init_features(16)
                            .num_classes(4).drop_rate(0.5));
  EXPECT_EQ(m->min_input_size(), 29);
  at::NoGradGuard no_grad;
  m->eval();
  const at::Tensor x = at::randn({2, 3, 29, 35});
  const at::Tensor a = m->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 4}));
  EXPECT_TRUE(at::equal(a, m->forward(x))) << "eval mode is deterministic";
  m->train();
  EXPECT_FALSE(at::equal(m->forward(x), m->forward(x))) << "train mode applies drop_rate";
  m->eval();
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 3, 28, 64})); }),
             "DenseNet: expected input of shape N x 3 x H x W with H, W >= 29, got [1, 3, 28, 64]");
  EXPECT_HAS(error_of([&] { m->forward(at::randn({1, 2, 32, 32})); }), "expected 3 input channels");
  // Fewer blocks, smaller minimum: one block needs no transition.
  auto one = mm::DenseNet(mm::DenseNetOptions().growth_rate(4).block_config({1}).num_init_features(8));
  EXPECT_EQ(one->min_input_size(), 1);
  one->eval();
  EXPECT_EQ(one->forward(at::randn({1, 3, 1, 1})).sizes(), (at::IntArrayRef{1, 1000}));
}
