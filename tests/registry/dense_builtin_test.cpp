// The built-in registry's segmentation, video and optical-flow entries
// (registry/{segmentation,video,optical_flow}.json), generated from
// torchvision 0.14's weights enums.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry_test_util.h"

using modelzoo::registry::Registry;

namespace {
std::vector<std::string> names_of_task(const Registry& r, const std::string& task) {
  std::vector<std::string> out;
  for (const auto& n : r.names()) {
    if (r.require(n).task == task) out.push_back(n);
  }
  return out;
}

std::size_t tags_of(const Registry& r, const std::vector<std::string>& names) {
  std::size_t n = 0;
  for (const auto& name : names) n += r.require(name).weights.size();
  return n;
}
}  // namespace

TEST(RegistryDense, SegmentationEntries) {
  Registry r = Registry::builtin();
  const auto seg = names_of_task(r, "segmentation");
  EXPECT_EQ(seg, (std::vector<std::string>{"deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101",
                                           "deeplabv3_resnet50", "fcn_resnet101", "fcn_resnet50",
                                           "lraspp_mobilenet_v3_large"}));
  EXPECT_EQ(tags_of(r, seg), 6u);
  const auto& m = r.require("deeplabv3_resnet50");
  EXPECT_EQ(m.origin, "built-in registry/segmentation.json");
  EXPECT_EQ(m.default_tag, "COCO_WITH_VOC_LABELS_V1");
  const auto& w = m.require_weights("DEFAULT");
  EXPECT_EQ(w.file_name, "deeplabv3_resnet50_coco-cd0a2569.pth");
  EXPECT_EQ(w.sha256.hex.substr(0, 8), "cd0a2569");
  ASSERT_EQ(w.categories.size(), 21u);
  EXPECT_EQ(w.categories.front(), "__background__");
  EXPECT_EQ(w.categories.back(), "tvmonitor");
  EXPECT_EQ(w.transforms.resize_size, 520);
  EXPECT_EQ(w.meta["preset"]["name"], "SemanticSegmentation");
  EXPECT_EQ(w.meta["arch_options"], (nlohmann::json{{"aux_loss", true}}));
  EXPECT_FALSE(r.require("lraspp_mobilenet_v3_large").require_weights("DEFAULT").meta.contains("arch_options"));
  ASSERT_NE(r.find_categories("coco_with_voc_labels"), nullptr);
}

TEST(RegistryDense, VideoEntries) {
  Registry r = Registry::builtin();
  const auto video = names_of_task(r, "video");
  EXPECT_EQ(video, (std::vector<std::string>{"mc3_18", "mvit_v1_b", "mvit_v2_s", "r2plus1d_18", "r3d_18", "s3d"}));
  EXPECT_EQ(tags_of(r, video), 6u);
  const auto& w = r.require("r3d_18").require_weights("KINETICS400_V1");
  ASSERT_EQ(w.categories.size(), 400u);
  EXPECT_EQ(w.categories.front(), "abseiling");
  EXPECT_EQ(w.meta["preset"]["name"], "VideoClassification");
  EXPECT_EQ(w.meta["preset"]["resize_size"], nlohmann::json::array({128, 171}));
  EXPECT_EQ(w.meta["preset"]["crop_size"], nlohmann::json::array({112, 112}));
  EXPECT_EQ(w.transforms.crop_size, 112);
  EXPECT_EQ(r.require("mvit_v2_s").require_weights("DEFAULT").meta["min_temporal_size"], 16);
}

TEST(RegistryDense, OpticalFlowEntries) {
  Registry r = Registry::builtin();
  const auto flow = names_of_task(r, "optical_flow");
  EXPECT_EQ(flow, (std::vector<std::string>{"raft_large", "raft_small"}));
  EXPECT_EQ(tags_of(r, flow), 8u);
  auto tags = r.require("raft_large").tags();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"C_T_SKHT_K_V1", "C_T_SKHT_K_V2", "C_T_SKHT_V1", "C_T_SKHT_V2", "C_T_V1",
                                            "C_T_V2"}));
  EXPECT_EQ(r.require("raft_large").default_tag, "C_T_SKHT_V2");
  EXPECT_EQ(r.require("raft_small").default_tag, "C_T_V2");
  const auto& w = r.require("raft_small").require_weights("DEFAULT");
  EXPECT_TRUE(w.categories.empty());
  EXPECT_EQ(w.meta["preset"]["name"], "OpticalFlow");
}
