// Segmentation models: structure, aux_loss handling and argument errors
// (numeric parity with torchvision is in parity_test.cpp).
#include <gtest/gtest.h>

#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/segmentation/models.h"
#include "modelzoo/state_dict/state_dict.h"

namespace ms = modelzoo::segmentation;
namespace mm = modelzoo::models;

namespace {

mm::ArchArgs uninit(nlohmann::json extra = nlohmann::json::object(), int64_t classes = 21) {
  mm::ArchArgs a;
  a.num_classes = classes;
  a.init_weights = false;
  a.extra = std::move(extra);
  return a;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelzoo::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected modelzoo::Error";
  return "";
}

bool has_key(const modelzoo::io::StateDict& sd, const std::string& key) { return sd.find(key) != nullptr; }

}  // namespace

TEST(SegmentationModels, CatalogListsTheSixBuilders) {
  std::vector<std::string> names;
  for (const auto& a : ms::segmentation_architectures()) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101",
                                             "deeplabv3_resnet50", "fcn_resnet101", "fcn_resnet50",
                                             "lraspp_mobilenet_v3_large"}));
  EXPECT_EQ(ms::find_segmentation_architecture("fcn_resnet50")->pretrained_extra, (nlohmann::json{{"aux_loss", true}}));
  EXPECT_TRUE(ms::find_segmentation_architecture("lraspp_mobilenet_v3_large")->pretrained_extra.empty());
  const std::string msg = error_of([] { ms::build_segmenter("fcn_resnet18"); });
  EXPECT_NE(msg.find("unknown segmentation architecture 'fcn_resnet18'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deeplabv3_resnet50"), std::string::npos) << msg;
}

TEST(SegmentationModels, AuxLossAddsTheAuxiliaryHead) {
  auto plain = modelzoo::state_dict::state_dict(*ms::fcn_resnet50(uninit()));
  auto with_aux = modelzoo::state_dict::state_dict(*ms::fcn_resnet50(uninit({{"aux_loss", true}})));
  EXPECT_FALSE(has_key(plain, "aux_classifier.0.weight"));
  ASSERT_TRUE(has_key(with_aux, "aux_classifier.0.weight"));
  EXPECT_EQ(with_aux.find("aux_classifier.0.weight")->sizes(), (at::IntArrayRef{256, 1024, 3, 3}));
  EXPECT_EQ(with_aux.find("aux_classifier.4.weight")->sizes(), (at::IntArrayRef{21, 256, 1, 1}));
  // IntermediateLayerGetter keeps the layers up to layer4: no avgpool/fc.
  EXPECT_TRUE(has_key(plain, "backbone.layer4.2.conv3.weight"));
  EXPECT_FALSE(has_key(plain, "backbone.fc.weight"));
  // Dilation instead of stride in layer3 and layer4 (output stride 8).
  auto m = ms::deeplabv3_mobilenet_v3_large(uninit({{"aux_loss", true}}));
  auto sd = modelzoo::state_dict::state_dict(*m);
  EXPECT_EQ(sd.find("aux_classifier.0.weight")->sizes(), (at::IntArrayRef{10, 40, 3, 3}));
  EXPECT_EQ(sd.find("classifier.0.convs.0.0.weight")->sizes(), (at::IntArrayRef{256, 960, 1, 1}));
  EXPECT_FALSE(has_key(sd, "backbone.17.0.weight"));
}

TEST(SegmentationModels, OutputsAtTheInputSize) {
  auto m = ms::lraspp_mobilenet_v3_large(uninit({}, 5));
  for (auto& p : m->parameters()) p.data().normal_(0, 0.05);
  m->eval();
  at::NoGradGuard no_grad;
  const auto y = m->forward(at::randn({2, 3, 37, 50}));
  EXPECT_EQ(y.out.sizes(), (at::IntArrayRef{2, 5, 37, 50}));
  EXPECT_FALSE(y.aux.defined());
  // Tiny inputs still work (the backbone pools down to 1 x 1).
  EXPECT_EQ(m->forward(at::randn({1, 3, 1, 1})).out.sizes(), (at::IntArrayRef{1, 5, 1, 1}));
}

TEST(SegmentationModels, BadArgumentsAreRefusedByName) {
  std::string msg = error_of([] { ms::lraspp_mobilenet_v3_large(uninit({{"aux_loss", true}})); });
  EXPECT_NE(msg.find("lraspp_mobilenet_v3_large: this model does not use an auxiliary loss"), std::string::npos)
      << msg;
  msg = error_of([] { ms::fcn_resnet50(uninit({{"aux_los", true}})); });
  EXPECT_NE(msg.find("aux_los"), std::string::npos) << msg;
  msg = error_of([] { ms::deeplabv3_resnet50(uninit({{"aux_loss", "yes"}})); });
  EXPECT_NE(msg.find("aux_loss"), std::string::npos) << msg;
  msg = error_of([] { ms::fcn_resnet50(uninit({}, 0)); });
  EXPECT_NE(msg.find("num_classes must be at least 1, got 0"), std::string::npos) << msg;
  auto m = ms::lraspp_mobilenet_v3_large(uninit());
  msg = error_of([&] { m->forward(at::zeros({1, 4, 8, 8})); });
  EXPECT_NE(msg.find("expected an N x 3 x H x W batch, got shape [1, 4, 8, 8]"), std::string::npos) << msg;
}
