// get_segmenter through the hub: a local weights file (torchvision's
// randomised deeplabv3_mobilenet_v3_large with its aux head), the aux_loss
// handling of pretrained builds, and requests the hub refuses by name. The
// download path (nginx, user registry, cache) is tested through the segment
// tool in tests/segment.
#include <gtest/gtest.h>

#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "modelzoo/segmentation/hub.h"
#include "modelzoo/segmentation/output.h"
#include "support/dense_oracle.h"

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelzoo::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected modelzoo::Error";
  return "";
}

modelzoo::HubOptions offline_options(const std::filesystem::path& cache) {
  modelzoo::HubOptions o;
  o.registry = modelzoo::registry::Registry::builtin();
  o.cache.root = cache;
  o.fetch.offline = true;
  return o;
}

}  // namespace

TEST(SegmentationHub, LocalFileLoadsWithTheAuxHeadOrWithoutIt) {
  mz_test::DenseCase tv;
  ASSERT_TRUE(mz_test::run_dense_oracle("segmentation", "deeplabv3_mobilenet_v3_large",
                                        "--size 45x38 --kwargs '{\"aux_loss\": true}'", &tv));
  mz_test::TempDir dir("mz_seg_hub_");
  const auto file = dir / "weights.pth";
  modelzoo::io::write_state_dict(file, tv.weights);
  const auto options = offline_options(dir / "cache");
  // A file of a registered model: pretrained builds get aux_loss = true.
  modelzoo::Segmenter m = modelzoo::deeplabv3_mobilenet_v3_large(modelzoo::Weights::file(file), options);
  EXPECT_FALSE(m->is_training());
  at::NoGradGuard no_grad;
  auto y = m->forward(tv.tensor("input"));
  ASSERT_TRUE(y.aux.defined());
  EXPECT_LE(mz_test::dense_relative_diff(y.out, tv.tensor("out")), 1e-4);
  EXPECT_LE(mz_test::dense_relative_diff(y.aux, tv.tensor("aux")), 1e-4);
  EXPECT_EQ(modelzoo::segmentation::class_map(y.out).sizes(), (at::IntArrayRef{1, 45, 38}));
  // aux_loss = false drops the head and its weights.
  auto no_aux = options;
  no_aux.arch_options["aux_loss"] = false;
  auto m2 = modelzoo::get_segmenter("deeplabv3_mobilenet_v3_large", modelzoo::Weights::file(file), no_aux);
  auto y2 = m2->forward(tv.tensor("input"));
  EXPECT_FALSE(y2.aux.defined());
  EXPECT_TRUE(y2.out.equal(y.out));
  // The wrong architecture for the file: a LoadError naming the file.
  const std::string msg = error_of([&] { modelzoo::lraspp_mobilenet_v3_large(modelzoo::Weights::file(file), options); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
}

TEST(SegmentationHub, RequestsRefusedByName) {
  mz_test::TempDir dir("mz_seg_hub_");
  const auto options = offline_options(dir.path());
  std::string msg = error_of([&] { modelzoo::get_segmenter("resnet50", modelzoo::Weights::none(), options); });
  EXPECT_NE(msg.find("model 'resnet50' is a classification model"), std::string::npos) << msg;
  msg = error_of([&] { modelzoo::get_segmenter("fcn_resnet34", modelzoo::Weights::none(), options); });
  EXPECT_NE(msg.find("unknown segmentation architecture 'fcn_resnet34'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lraspp_mobilenet_v3_large"), std::string::npos) << msg;
  msg = error_of([&] { modelzoo::get_segmenter("fcn_resnet50", modelzoo::Weights::tag("V9"), options); });
  EXPECT_NE(msg.find("V9"), std::string::npos) << msg;
  // Offline with an empty cache: the error names the model and the cache.
  msg = error_of([&] { modelzoo::fcn_resnet50(true, options); });
  EXPECT_NE(msg.find("fcn_resnet50"), std::string::npos) << msg;
  // Random initialisation needs no file, and follows the registry's 21 classes default.
  auto m = modelzoo::lraspp_mobilenet_v3_large(false, options);
  m->eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(m->forward(at::randn({1, 3, 16, 16})).out.size(1), 21);
}

TEST(SegmentationOutput, SharesPaletteAndBlend) {
  at::Tensor map = at::zeros({2, 4}, at::kLong);
  map[0][0] = 15;
  map[1][3] = 15;
  map[1][2] = 3;
  const auto shares = modelzoo::segmentation::class_shares(map, {"__background__", "a", "b", "c"});
  ASSERT_EQ(shares.size(), 3u);
  EXPECT_EQ(shares[0].index, 0);
  EXPECT_EQ(shares[0].pixels, 5);
  EXPECT_DOUBLE_EQ(shares[0].share, 5.0 / 8.0);
  EXPECT_EQ(shares[1].index, 15);
  EXPECT_EQ(shares[1].name, "class 15");
  EXPECT_EQ(shares[2].name, "c");
  EXPECT_EQ(modelzoo::segmentation::palette_color(15), (std::array<uint8_t, 3>{192, 128, 128}));
  EXPECT_EQ(modelzoo::segmentation::palette_color(0), (std::array<uint8_t, 3>{0, 0, 0}));
  const at::Tensor image = at::full({3, 2, 4}, 100, at::kByte);
  const at::Tensor out = modelzoo::segmentation::blend_class_map(image, map, 0.5);
  EXPECT_EQ(out[0][1][0].item<int>(), 100);  // background untouched
  EXPECT_EQ(out[0][0][0].item<int>(), 146);  // (100 + 192) / 2
  EXPECT_EQ(out[2][0][0].item<int>(), 114);  // (100 + 128) / 2
  std::string msg = error_of([&] { modelzoo::segmentation::blend_class_map(image, at::zeros({3, 4}, at::kLong)); });
  EXPECT_NE(msg.find("the class map is 3 x 4 but the image is 3 x 2 x 4"), std::string::npos) << msg;
  msg = error_of([&] { modelzoo::segmentation::class_shares(at::zeros({2, 2}), {}); });
  EXPECT_NE(msg.find("integer class map"), std::string::npos) << msg;
}
