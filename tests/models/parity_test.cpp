// Numeric parity with torchvision: tests/oracle/models_parity.py saves a
// torchvision model's (randomised) weights, an input and the eval-mode output;
// modelzoo reads them with its own reader, loads the weights strictly into its
// own model and must reproduce the output:
//   max |out - expected| <= 1e-4 * max(1, max |expected|).
// test_models runs the cases marked `default_run`; test_models_slow (built
// from this file with MZ_PARITY_ALL, ctest label `slow`) runs all of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>

#include <unistd.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/io/io.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/process.h"

namespace mm = modelzoo::models;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string arch;
  int64_t size = 64;        ///< input height = width
  bool legacy = false;      ///< weights in the pre-1.6 format
  bool default_run = false; ///< also in the default (non-slow) run
  /// Builder arguments (JSON object): torchvision's kwargs and modelzoo's
  /// ArchArgs::extra alike, e.g. {"image_size": 64} for a ViT.
  std::string kwargs = "{}";
  /// Also randomise parameters outside Conv2d/Linear/norm layers (class
  /// tokens, attention in-projections, logit scales, ...).
  bool all_params = false;
};

// One line per case; a family adds its architectures here.
const std::vector<Case> kCases = {
    {"vgg11", 64, false, true},
    {"vgg11_bn", 64, false, true},
    {"vgg13", 64},
    {"vgg13_bn", 64},
    {"vgg16", 64},
    {"vgg16_bn", 64},
    {"vgg19", 64},
    {"vgg19_bn", 64},
    {"vgg11_bn", 48, true},
    {"efficientnet_b0", 64},
    {"efficientnet_b1", 64},
    {"efficientnet_b2", 64},
    {"efficientnet_b3", 64},
    {"efficientnet_b4", 64},
    {"efficientnet_b5", 64},
    {"efficientnet_b6", 64},
    {"efficientnet_b7", 64},
    {"efficientnet_v2_s", 64},
    {"efficientnet_v2_m", 64},
    {"efficientnet_v2_l", 64},
    {"regnet_x_400mf", 64},
    {"regnet_x_800mf", 64},
    {"regnet_x_1_6gf", 64},
    {"regnet_x_3_2gf", 64},
    {"regnet_x_8gf", 64},
    {"regnet_x_16gf", 64},
    {"regnet_x_32gf", 64},
    {"regnet_y_400mf", 64},
    {"regnet_y_800mf", 64},
    {"regnet_y_1_6gf", 64},
    {"regnet_y_3_2gf", 64},
    {"regnet_y_8gf", 64},
    {"regnet_y_16gf", 64},
    {"regnet_y_32gf", 64},
    {"regnet_y_128gf", 64},
    {"convnext_tiny", 32},
    {"convnext_small", 32},
    {"convnext_base", 32},
    {"convnext_large", 32},
    {"vit_b_32", 64, false, true, R"({"image_size": 64})", true},
    {"vit_b_16", 224, false, false, "{}", true},
    {"vit_b_16", 384, false, false, R"({"image_size": 384})", true},
    {"vit_l_16", 64, false, false, R"({"image_size": 64})", true},
    {"vit_l_32", 224, false, false, "{}", true},
    {"vit_h_14", 112, false, false, R"({"image_size": 112})", true},
    {"swin_t", 64, false, true, "{}", true},
    {"swin_s", 64, false, false, "{}", true},
    {"swin_b", 64, false, false, "{}", true},
    {"swin_t", 224, false, false, "{}", true},
    {"swin_v2_t", 40, false, true, "{}", true},
    {"swin_v2_s", 64, false, false, "{}", true},
    {"swin_v2_b", 64, false, false, "{}", true},
    {"swin_v2_t", 256, false, false, "{}", true},
    {"maxvit_t", 224, false, true, "{}", true},
    {"googlenet", 64},
    {"inception_v3", 75},
    {"mnasnet0_5", 64, false, true},
    {"mnasnet0_75", 64},
    {"mnasnet1_0", 64},
    {"mnasnet1_3", 64},
    {"mobilenet_v2", 32, false, true},
    {"mobilenet_v3_large", 64},
    {"mobilenet_v3_small", 64, false, true},
    {"shufflenet_v2_x0_5", 64, false, true},
    {"shufflenet_v2_x1_0", 64},
    {"shufflenet_v2_x1_5", 64},
    {"shufflenet_v2_x2_0", 64},
    {"resnet18", 64, false, true},
    {"resnet34", 64},
    {"resnet50", 64},
    {"resnet101", 64},
    {"resnet152", 64},
    {"resnext50_32x4d", 64},
    {"resnext101_32x8d", 64},
    {"resnext101_64x4d", 64},
    {"wide_resnet50_2", 64},
    {"wide_resnet101_2", 64},
    {"resnet50", 40, true},
    {"alexnet", 64, false, true},
    {"squeezenet1_0", 64},
    {"squeezenet1_1", 64, false, true},
    {"densenet121", 32},
    {"densenet161", 32},
    {"densenet169", 32},
    {"densenet201", 32},
};

std::vector<Case> selected() {
#ifdef MZ_PARITY_ALL
  return kCases;
#else
  std::vector<Case> out;
  std::copy_if(kCases.begin(), kCases.end(), std::back_inserter(out),
               [](const Case& c) { return c.default_run; });
  return out;
#endif
}

// How gtest prints a case (instead of its bytes).
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.arch << " at " << c.size << "x" << c.size << (c.legacy ? ", legacy format" : "");
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.arch + "_" + std::to_string(info.param.size) +
         (info.param.legacy ? "_legacy" : "");
}

// A scratch directory in RAM when possible (the weight files are ~0.5 GB),
// removed with everything in it on destruction.
class Scratch {
 public:
  Scratch() {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "mz_parity_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      tmpl = (fs::temp_directory_path() / "mz_parity_XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class Parity : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(Parity, EvalOutputMatchesTorchvision) {
  const Case& c = GetParam();
  Scratch dir;
  const std::string script = std::string(MZ_SOURCE_DIR) + "/tests/oracle/models_parity.py";
  const auto run = mz_test::run_command(
      std::string(mz_test::python()) + " " + mz_test::shell_quote(script) + " --out " +
      mz_test::shell_quote(dir.path().string()) + " --size " + std::to_string(c.size) +
      " --kwargs " + mz_test::shell_quote(c.kwargs) + (c.all_params ? " --all-params" : "") +
      (c.legacy ? " --legacy " : " ") + c.arch);
  ASSERT_EQ(run.exit_code, 0) << "oracle failed: " << run.out;

  const fs::path weights = dir.path() / (c.arch + ".weights.pth");
  const fs::path io_file = dir.path() / (c.arch + ".io.pth");
  EXPECT_EQ(modelzoo::io::detect_format(weights),
            c.legacy ? modelzoo::io::Format::Legacy : modelzoo::io::Format::Zip);

  const modelzoo::io::Value io = modelzoo::io::read(io_file);
  ASSERT_EQ(io.at("arch").as_str(), c.arch);
  const at::Tensor input = io.at("input").as_tensor();
  const at::Tensor expected = io.at("output").as_tensor();
  ASSERT_EQ(input.sizes(), (at::IntArrayRef{1, 3, c.size, c.size}));

  const auto sd = modelzoo::io::read_state_dict(weights);
  mm::ArchArgs args;
  args.init_weights = false;
  args.extra = nlohmann::json::parse(c.kwargs);
  mm::Classifier model = mm::build_architecture(c.arch, args);
  // Buffers modelzoo computes itself (relative position indices and tables;
  // BatchNorm statistics aside, which the oracle randomises) equal the file's.
  for (const auto& buffer : model->named_buffers()) {
    const std::string& key = buffer.key();
    const at::Tensor* file = sd.find(key);
    if (file == nullptr || key.find("running_") != std::string::npos ||
        key.find("num_batches_tracked") != std::string::npos) {
      continue;
    }
    ASSERT_EQ(buffer.value().scalar_type(), file->scalar_type()) << c.arch << ": buffer " << key;
    EXPECT_TRUE(at::equal(buffer.value(), *file)) << c.arch << ": buffer " << key
                                                  << " differs from torchvision's";
  }
  const auto report = modelzoo::state_dict::load_state_dict(*model, sd);  // strict
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.loaded, sd.size());
  // All tensors are contiguous CPU tensors of the model's dtypes: none is copied.
  EXPECT_EQ(report.aliased, report.loaded);

  model->eval();
  at::NoGradGuard no_grad;
  const at::Tensor out = model->forward(input);
  ASSERT_EQ(out.sizes(), expected.sizes());
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  const double diff = (out - expected).abs().max().item<double>();
  std::cout << "[ parity ] " << c.arch << " " << c.size << "x" << c.size
            << (c.legacy ? " legacy" : "") << ": max |diff| = " << diff
            << ", max |expected| = " << expected.abs().max().item<double>() << "\n";
  EXPECT_LE(diff, 1e-4 * scale) << c.arch << ": output differs from torchvision";
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Parity, ::testing::ValuesIn(selected()), case_name);
