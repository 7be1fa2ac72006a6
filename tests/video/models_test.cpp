// Video models: catalog, structure, state_dict layout details and refused
// inputs (numeric parity is in parity_test.cpp).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/state_dict/state_dict.h"
#include "modelzoo/video/models.h"

namespace mv = modelzoo::video;
namespace mm = modelzoo::models;

namespace {

mm::ArchArgs uninit(int64_t classes = 400) {
  mm::ArchArgs a;
  a.num_classes = classes;
  a.init_weights = false;
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

}  // namespace

TEST(VideoModels, CatalogAndLayout) {
  std::vector<std::string> names;
  for (const auto& a : mv::video_architectures()) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mc3_18", "mvit_v1_b", "mvit_v2_s", "r2plus1d_18", "r3d_18", "s3d"}));
  const std::string msg = error_of([] { mv::build_video_classifier("mvit_v9"); });
  EXPECT_NE(msg.find("unknown video architecture 'mvit_v9'"), std::string::npos) << msg;

  auto r21 = modelzoo::state_dict::state_dict(*mv::r2plus1d_18(uninit()));
  // (2+1)-D: midplanes = (64*64*27) // (64*9 + 3*64) = 144 in layer1.
  EXPECT_EQ(r21.find("layer1.0.conv1.0.0.weight")->sizes(), (at::IntArrayRef{144, 64, 1, 3, 3}));
  EXPECT_EQ(r21.find("layer1.0.conv1.0.3.weight")->sizes(), (at::IntArrayRef{64, 144, 3, 1, 1}));
  EXPECT_EQ(r21.find("stem.3.weight")->sizes(), (at::IntArrayRef{64, 45, 3, 1, 1}));
  auto mc3 = modelzoo::state_dict::state_dict(*mv::mc3_18(uninit()));
  EXPECT_EQ(mc3.find("layer2.0.conv1.0.weight")->sizes(), (at::IntArrayRef{128, 64, 1, 3, 3}));
  EXPECT_EQ(mc3.find("layer1.0.conv1.0.weight")->sizes(), (at::IntArrayRef{64, 64, 3, 3, 3}));
  EXPECT_EQ(mc3.find("fc.weight")->sizes(), (at::IntArrayRef{400, 512}));
  auto s3d = modelzoo::state_dict::state_dict(*mv::s3d(uninit(7)));
  EXPECT_EQ(s3d.find("classifier.1.weight")->sizes(), (at::IntArrayRef{7, 1024, 1, 1, 1}));
  EXPECT_EQ(s3d.find("features.5.branch1.1.0.0.weight")->sizes(), (at::IntArrayRef{128, 96, 1, 3, 3}));
}

TEST(VideoModels, MViTLayoutAndParameterCounts) {
  // torchvision's num_params for the published weights.
  for (const auto& [name, count] : std::vector<std::pair<std::string, int64_t>>{{"mvit_v1_b", 36610672},
                                                                              {"mvit_v2_s", 34537744}}) {
    auto m = mv::build_video_classifier(name, uninit());
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.numel();
    EXPECT_EQ(n, count) << name;
  }
  auto v2 = modelzoo::state_dict::state_dict(*mv::mvit_v2_s(uninit()));
  EXPECT_EQ(v2.find("blocks.0.attn.rel_pos_h")->sizes(), (at::IntArrayRef{111, 96}));
  EXPECT_EQ(v2.find("blocks.1.attn.pool_q.pool.weight")->sizes(), (at::IntArrayRef{96, 1, 3, 3, 3}));
  EXPECT_EQ(v2.find("pos_encoding.spatial_pos"), nullptr);
  auto v1 = modelzoo::state_dict::state_dict(*mv::mvit_v1_b(uninit()));
  EXPECT_EQ(v1.find("pos_encoding.spatial_pos")->sizes(), (at::IntArrayRef{56 * 56, 96}));
  EXPECT_EQ(v1.find("blocks.0.mlp.3.weight")->sizes(), (at::IntArrayRef{192, 384}));
  auto m = mv::mvit_v2_s(uninit());
  const std::string msg = error_of([&] { m->forward(at::zeros({1, 3, 8, 224, 224})); });
  EXPECT_NE(msg.find("expected N x 3 x 16 x 224 x 224 clips, got shape [1, 3, 8, 224, 224]"), std::string::npos) << msg;
}

TEST(VideoModels, ForwardShapesAndErrors) {
  auto m = mv::r3d_18(uninit(5));
  for (auto& p : m->parameters()) p.data().normal_(0, 0.02);
  m->eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(m->forward(at::randn({2, 3, 3, 20, 24})).sizes(), (at::IntArrayRef{2, 5}));
  std::string msg = error_of([&] { m->forward(at::randn({1, 3, 20, 24})); });
  EXPECT_NE(msg.find("expected an N x 3 x T x H x W batch of clips, got shape [1, 3, 20, 24]"), std::string::npos) << msg;
  auto s = mv::s3d(uninit());
  s->eval();
  msg = error_of([&] { s->forward(at::zeros({1, 3, 16, 32, 32})); });
  EXPECT_NE(msg.find("AvgPool3d: the input"), std::string::npos) << msg;
  msg = error_of([] { mv::r3d_18(uninit(0)); });
  EXPECT_NE(msg.find("num_classes must be at least 1, got 0"), std::string::npos) << msg;
  mm::ArchArgs bad = uninit();
  bad.extra = {{"dropuot", 0.5}};
  msg = error_of([&] { mv::s3d(bad); });
  EXPECT_NE(msg.find("dropuot"), std::string::npos) << msg;
}
