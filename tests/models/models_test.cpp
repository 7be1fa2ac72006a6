// The catalog, VGG's structure and initialisation, and every architecture's
// state_dict layout against torchvision's (tests/oracle/goldens/<arch>.json,
// written by tests/oracle/models_goldens.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/vgg.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
namespace fs = std::filesystem;
using modelzoo::Error;

namespace {

using mz_test::error_of;

const fs::path kGoldens = fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "goldens";

const std::vector<std::string> kVggs = {"vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
                                        "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"};

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// ---------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------

TEST(Catalog, ListsEveryVggSorted) {
  const auto names = mm::list_models();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "duplicate name";
  for (const auto& v : kVggs) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), v)) << v;
    const mm::ArchInfo* info = mm::find_architecture(v);
    ASSERT_NE(info, nullptr) << v;
    EXPECT_EQ(info->name, v);
    EXPECT_EQ(info->family, "vgg");
  }
  EXPECT_EQ(mm::architectures().size(), names.size());
  EXPECT_EQ(mm::find_architecture("vgg20"), nullptr);
  EXPECT_EQ(mm::find_architecture(""), nullptr);
}

TEST(Catalog, UnknownNameListsKnownOnes) {
  const std::string msg = error_of([] { mm::build_architecture("vgg20"); });
  EXPECT_NE(msg.find("unknown architecture 'vgg20'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("vgg11, vgg11_bn, vgg13"), std::string::npos) << msg;
  EXPECT_NE(msg.find("vgg19_bn"), std::string::npos) << msg;
}

TEST(Catalog, BuildsTheNamedArchitectureWithItsArguments) {
  mm::ArchArgs args;
  args.num_classes = 10;
  args.init_weights = false;
  args.extra = {{"dropout", 0.25}, {"image_size", 32}};
  mm::Classifier model = mm::build_architecture("vgg13_bn", args);
  auto* vgg = dynamic_cast<mm::VGGImpl*>(model.get());
  ASSERT_NE(vgg, nullptr);
  EXPECT_EQ(vgg->options().cfg(), "B");
  EXPECT_TRUE(vgg->options().batch_norm());
  EXPECT_EQ(vgg->classifier->at<mm::LinearImpl>(6)->weight.sizes(), (at::IntArrayRef{10, 4096}));
  EXPECT_DOUBLE_EQ(vgg->classifier->at<mm::DropoutImpl>(2)->p(), 0.25);
  EXPECT_DOUBLE_EQ(vgg->classifier->at<mm::DropoutImpl>(5)->p(), 0.25);

  args.extra = {{"dropout", "lots"}};
  const std::string msg = error_of([&] { mm::build_architecture("vgg11", args); });
  EXPECT_NE(msg.find("vgg11: extra argument 'dropout' must be a number, got \"lots\""),
            std::string::npos)
      << msg;
}

// ---------------------------------------------------------------------------
// VGG
// ---------------------------------------------------------------------------

TEST(VGG, ConfigurationTable) {
  // Convolutions per configuration: 8, 10, 13, 16, each followed by 5 poolings.
  const std::vector<std::pair<std::string, int>> convs = {{"A", 8}, {"B", 10}, {"D", 13}, {"E", 16}};
  for (const auto& [cfg, n] : convs) {
    const auto& c = mm::vgg_config(cfg);
    EXPECT_EQ(std::count(c.begin(), c.end(), -1), 5) << cfg;
    EXPECT_EQ(static_cast<int>(c.size()) - 5, n) << cfg;
    EXPECT_EQ(c.back(), -1);
  }
  EXPECT_NE(error_of([] { mm::vgg_config("C"); }).find("unknown configuration 'C' (expected A, B, D or E)"),
            std::string::npos);
}

TEST(VGG, LayerSlotsMatchTorchvision) {
  auto plain = mm::vgg11(mm::ArchArgs{1000, false, {}});
  // A: conv, relu, pool, conv, relu, pool, conv, relu, conv, relu, pool, ...
  EXPECT_EQ(plain->features->size(), 21u);
  EXPECT_NE(plain->features->at<mm::Conv2dImpl>(0), nullptr);
  EXPECT_NE(plain->features->at<mm::ReLUImpl>(1), nullptr);
  EXPECT_NE(plain->features->at<mm::MaxPool2dImpl>(2), nullptr);
  EXPECT_NE(plain->features->at<mm::Conv2dImpl>(3), nullptr);
  auto bn = mm::vgg11_bn(mm::ArchArgs{1000, false, {}});
  EXPECT_EQ(bn->features->size(), 29u);
  EXPECT_NE(bn->features->at<mm::BatchNorm2dImpl>(1), nullptr);
  EXPECT_NE(bn->features->at<mm::ReLUImpl>(2), nullptr);
  EXPECT_NE(bn->features->at<mm::MaxPool2dImpl>(3), nullptr);
  // Conv bias stays even with BatchNorm, as in torchvision.
  EXPECT_TRUE(bn->features->at<mm::Conv2dImpl>(0)->bias.defined());
  EXPECT_EQ(bn->classifier->size(), 7u);
}

TEST(VGG, ForwardShapesAndModes) {
  auto model = mm::vgg11(mm::ArchArgs{7, true, {}});
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 64, 64});
  model->eval();
  const at::Tensor a = model->forward(x), b = model->forward(x);
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 7}));
  EXPECT_TRUE(at::equal(a, b)) << "eval mode must be deterministic (no dropout)";
  model->train();
  EXPECT_FALSE(at::equal(model->forward(x), a)) << "train mode applies dropout";
  model->eval();
  EXPECT_EQ(model->forward(at::randn({1, 3, 32, 40})).sizes(), (at::IntArrayRef{1, 7}));
  const std::string msg = error_of([&] { model->forward(at::randn({1, 1, 64, 64})); });
  EXPECT_NE(msg.find("expected 3 input channels"), std::string::npos) << msg;
}

TEST(VGG, BadOptionsAreRefused) {
  EXPECT_NE(error_of([] { mm::VGG(mm::VGGOptions("Q")); }).find("unknown configuration 'Q'"),
            std::string::npos);
  EXPECT_NE(error_of([] { mm::VGG(mm::VGGOptions("A").num_classes(0)); })
                .find("num_classes must be at least 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { mm::VGG(mm::VGGOptions("A").dropout(-0.1)); })
                .find("dropout must be in [0, 1]"),
            std::string::npos);
}

TEST(VGG, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto model = mm::vgg11_bn(mm::ArchArgs{1000, true, {}});
  // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (out * 3 * 3)).
  auto conv = model->features->at<mm::Conv2dImpl>(8);  // 128 -> 256
  const double want = std::sqrt(2.0 / (256 * 9));
  EXPECT_NEAR(conv->weight.std().item<double>(), want, 0.03 * want);
  EXPECT_TRUE(at::equal(conv->bias, at::zeros({256})));
  auto bn = model->features->at<mm::BatchNorm2dImpl>(9);
  EXPECT_TRUE(at::equal(bn->weight, at::ones({256})));
  EXPECT_TRUE(at::equal(bn->bias, at::zeros({256})));
  // Linear: normal_(0, 0.01), zero bias.
  auto fc = model->classifier->at<mm::LinearImpl>(3);
  EXPECT_NEAR(fc->weight.std().item<double>(), 0.01, 0.0002);
  EXPECT_NEAR(fc->weight.mean().item<double>(), 0.0, 0.0002);
  EXPECT_TRUE(at::equal(fc->bias, at::zeros({4096})));
}

TEST(VGG, SkippingInitialisationIsFast) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto fast = mm::vgg19(mm::ArchArgs{1000, false, {}});
  const double uninit_ms = ms_since(t0);
  t0 = clock::now();
  auto slow = mm::vgg19(mm::ArchArgs{1000, true, {}});
  const double init_ms = ms_since(t0);
  std::cout << "[ vgg19 build ] init_weights=false: " << uninit_ms
            << " ms, init_weights=true: " << init_ms << " ms\n";
  ::testing::Test::RecordProperty("vgg19_build_uninit_ms", std::to_string(uninit_ms));
  ::testing::Test::RecordProperty("vgg19_build_init_ms", std::to_string(init_ms));
  EXPECT_LT(uninit_ms, init_ms);
  // Same layout either way.
  const auto a = modelzoo::state_dict::state_dict(*fast), b = modelzoo::state_dict::state_dict(*slow);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key(), b[i].key());
    EXPECT_EQ(a[i].value().sizes(), b[i].value().sizes());
  }
}

// ---------------------------------------------------------------------------
// Goldens: every architecture of the catalog against torchvision
// ---------------------------------------------------------------------------

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, StateDictMatchesTorchvision) {
  const std::string arch = GetParam();
  const fs::path file = kGoldens / (arch + ".json");
  ASSERT_TRUE(fs::exists(file)) << "no golden for " << arch << " at " << file
                                << "; write it with: /usr/bin/python3 "
                                   "tests/oracle/models_goldens.py "
                                << arch;
  std::ifstream in(file);
  const nlohmann::json golden = nlohmann::json::parse(in);
  ASSERT_EQ(golden.at("arch"), arch);

  mm::ArchArgs args;
  args.init_weights = false;
  if (golden.contains("kwargs")) args.extra = golden.at("kwargs");
  mm::Classifier model = mm::build_architecture(arch, args);
  const auto sd = modelzoo::state_dict::state_dict(*model);

  // Every difference in one message: position, key, shape, dtype.
  const auto& want = golden.at("state_dict");
  std::ostringstream diff;
  const std::size_t n = std::max<std::size_t>(want.size(), sd.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string want_key = i < want.size() ? want[i].at("key").get<std::string>() : "(none)";
    const std::string got_key = i < sd.size() ? sd[i].key() : "(none)";
    const std::string want_desc =
        i < want.size() ? want_key + " " + shape_str(want[i].at("shape").get<std::vector<int64_t>>()) +
                              " " + want[i].at("dtype").get<std::string>()
                        : "(none)";
    const std::string got_desc =
        i < sd.size() ? got_key + " " + shape_str(sd[i].value().sizes().vec()) + " " +
                            dtype_name(sd[i].value().scalar_type())
                      : "(none)";
    if (want_desc != got_desc) {
      diff << "  #" << i << ": torchvision " << want_desc << " | modelzoo " << got_desc << "\n";
    }
  }
  EXPECT_EQ(diff.str(), "") << arch << ": state_dict differs from torchvision "
                            << golden.value("torchvision", "?") << " (" << want.size()
                            << " vs " << sd.size() << " entries)";

  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  EXPECT_EQ(params, golden.at("num_parameters").get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Catalog, Golden, ::testing::ValuesIn(mm::list_models()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
