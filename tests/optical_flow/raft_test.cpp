// RAFT: layout, padding to multiples of 8, refused inputs; flow_to_image's
// colour wheel and errors (numeric parity is in parity_test.cpp).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/optical_flow/flow_image.h"
#include "modelzoo/optical_flow/raft.h"
#include "modelzoo/state_dict/state_dict.h"

namespace mf = modelzoo::optical_flow;

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

}  // namespace

TEST(Raft, LayoutOfBothVariants) {
  auto small = modelzoo::state_dict::state_dict(*mf::raft_small());
  auto large = modelzoo::state_dict::state_dict(*mf::raft_large());
  // Instance norm has no parameters: the feature encoder's first block is conv only.
  EXPECT_EQ(small.find("feature_encoder.convnormrelu.0.weight")->sizes(), (at::IntArrayRef{32, 3, 7, 7}));
  EXPECT_EQ(small.find("feature_encoder.convnormrelu.1.weight"), nullptr);
  EXPECT_NE(large.find("context_encoder.convnormrelu.1.running_mean"), nullptr);
  EXPECT_EQ(small.find("update_block.recurrent_block.convgru1.convz.weight")->sizes(),
            (at::IntArrayRef{96, 96 + 146, 3, 3}));
  EXPECT_EQ(small.find("update_block.recurrent_block.convgru2.convz.weight"), nullptr);
  EXPECT_EQ(large.find("update_block.recurrent_block.convgru2.convz.weight")->sizes(),
            (at::IntArrayRef{128, 128 + 256, 5, 1}));
  EXPECT_EQ(large.find("mask_predictor.conv.weight")->sizes(), (at::IntArrayRef{576, 256, 1, 1}));
  EXPECT_EQ(small.find("mask_predictor.conv.weight"), nullptr);
  EXPECT_EQ(large.find("feature_encoder.layer2.0.downsample.0.weight")->sizes(), (at::IntArrayRef{96, 64, 1, 1}));
  int64_t params = 0;
  for (const auto& p : mf::raft_small()->parameters()) params += p.numel();
  EXPECT_EQ(params, 990162);  // torchvision's num_params
  params = 0;
  for (const auto& p : mf::raft_large()->parameters()) params += p.numel();
  EXPECT_EQ(params, 5257536);
}

TEST(Raft, AnySizeFromTorchvisionsMinimumAndRefusedInputs) {
  auto m = mf::raft_small();
  m->eval();
  at::NoGradGuard no_grad;
  const auto flows = m->forward_all(at::rand({2, 3, 123, 130}) * 2 - 1, at::rand({2, 3, 123, 130}) * 2 - 1, 2);
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[1].sizes(), (at::IntArrayRef{2, 2, 123, 130}));
  EXPECT_FALSE(flows[1].isnan().any().item<bool>());
  std::string msg = error_of([&] { m->forward(at::zeros({1, 3, 16, 16}), at::zeros({1, 3, 16, 24})); });
  EXPECT_NE(msg.find("the two frames differ in shape: [1, 3, 16, 16] and [1, 3, 16, 24]"), std::string::npos) << msg;
  msg = error_of([&] { m->forward(at::zeros({1, 3, 16, 16}), at::zeros({1, 3, 16, 16}), 0); });
  EXPECT_NE(msg.find("num_flow_updates must be at least 1, got 0"), std::string::npos) << msg;
  msg = error_of([&] { m->forward(at::zeros({3, 16, 16}), at::zeros({3, 16, 16})); });
  EXPECT_NE(msg.find("expected N x 3 x H x W frames"), std::string::npos) << msg;
  msg = error_of([&] { m->forward(at::zeros({1, 3, 120, 200}), at::zeros({1, 3, 120, 200})); });
  EXPECT_NE(msg.find("frames of 120 x 200 are too small: the coarsest correlation level would be 1 x 3"),
            std::string::npos)
      << msg;
  msg = error_of([] { mf::build_flow_model("raft_tiny"); });
  EXPECT_NE(msg.find("unknown optical flow architecture 'raft_tiny'"), std::string::npos) << msg;
}

TEST(FlowImage, ColourWheelAndErrors) {
  const at::Tensor wheel = mf::make_colorwheel();
  ASSERT_EQ(wheel.sizes(), (at::IntArrayRef{55, 3}));
  EXPECT_EQ(wheel[0][0].item<float>(), 255.0f);
  EXPECT_EQ(wheel[0][1].item<float>(), 0.0f);
  EXPECT_EQ(wheel[1][1].item<float>(), 17.0f);  // floor(255 * 1 / 15)
  // Zero flow is white; a unit flow to the right is the wheel's interpolated colour at full saturation.
  const at::Tensor img = mf::flow_to_image(at::zeros({2, 4, 5}));
  EXPECT_EQ(img.sizes(), (at::IntArrayRef{3, 4, 5}));
  EXPECT_EQ(img.min().item<int>(), 255);
  EXPECT_EQ(mf::flow_to_image(at::zeros({3, 2, 4, 5})).sizes(), (at::IntArrayRef{3, 3, 4, 5}));
  std::string msg = error_of([] { mf::flow_to_image(at::zeros({3, 4, 5})); });
  EXPECT_NE(msg.find("expected a 2 x H x W or N x 2 x H x W flow, got 3 x 4 x 5"), std::string::npos) << msg;
  msg = error_of([] { mf::flow_to_image(at::zeros({2, 4, 5}, at::kDouble)); });
  EXPECT_NE(msg.find("expected a float32 flow"), std::string::npos) << msg;
}
