// The built-in registry: every torchvision 0.14 classification model with
// its weights, loaded from the JSON embedded in the library.
#include <algorithm>
#include <chrono>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry_test_util.h"

using modelzoo::RegistryError;
using modelzoo::registry::is_safe_file_name;
using modelzoo::registry::Registry;
using ::testing::HasSubstr;

namespace {
// torchvision 0.14's classification builders (torchvision.models.list_models(module=torchvision.models)).
const std::vector<std::string> kTorchvisionModels = {
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121",
    "densenet161", "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2",
    "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_v2_l", "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large",
    "mobilenet_v3_small", "regnet_x_16gf", "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf",
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf", "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf",
    "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf", "resnet101",
    "resnet152", "resnet18", "resnet34", "resnet50", "resnext101_32x8d", "resnext101_64x4d",
    "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t", "swin_v2_b",
    "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2",
    "wide_resnet50_2"};

// Names of the registry's classification models (the other tasks are
// checked in dense_builtin_test.cpp).
std::vector<std::string> classification_names(const Registry& r) {
  std::vector<std::string> out;
  for (const auto& n : r.names()) {
    if (r.require(n).task == "classification") out.push_back(n);
  }
  return out;
}

}  // namespace

TEST(RegistryBuiltin, HasTorchvisionDetectionModels) {
  Registry r = Registry::builtin();
  std::vector<std::string> detection;
  std::size_t tags = 0;
  for (const auto& n : r.names()) {
    const auto& m = r.require(n);
    if (m.task != "detection") continue;
    detection.push_back(n);
    tags += m.weights.size();
    for (const auto& w : m.weights) {
      SCOPED_TRACE(n + "/" + w.tag);
      EXPECT_EQ(w.url.rfind("https://download.pytorch.org/models/", 0), 0u);
      EXPECT_NE(w.file_name.find(w.sha256.hex.substr(0, 8)), std::string::npos);
      EXPECT_GT(w.meta["num_params"].get<int64_t>(), 0);
      if (n.rfind("keypointrcnn", 0) == 0) {
        EXPECT_EQ(w.categories, (std::vector<std::string>{"no person", "person"}));
        EXPECT_EQ(w.meta["keypoint_names"].size(), 17u);
      } else {
        ASSERT_EQ(w.categories.size(), 91u);
        EXPECT_EQ(w.categories[0], "__background__");
        EXPECT_EQ(w.categories[12], "N/A");
      }
    }
  }
  EXPECT_EQ(detection.size(), 12u);
  EXPECT_EQ(tags, 13u);
  const auto& kp = r.require("keypointrcnn_resnet50_fpn");
  EXPECT_EQ(kp.tags(), (std::vector<std::string>{"COCO_LEGACY", "COCO_V1"}));
  EXPECT_EQ(kp.require_weights("COCO_V1").meta["arch_options"]["frozen_bn_eps"], 0.0);
  EXPECT_FALSE(kp.require_weights("COCO_LEGACY").meta.contains("arch_options"));
}

TEST(RegistryBuiltin, HasAllTorchvisionClassificationModels) {
  Registry r = Registry::builtin();
  auto expected = kTorchvisionModels;
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(expected.size(), 80u);
  EXPECT_EQ(classification_names(r), expected);
  std::size_t tags = 0, hub = 0;
  for (const auto& n : classification_names(r)) {
    for (const auto& w : r.require(n).weights) (w.url.rfind("hf://", 0) == 0 ? hub : tags)++;
  }
  EXPECT_EQ(tags, 115u);  // every weights tag of every Weights enum
  EXPECT_EQ(hub, 142u);   // timm's weights on the Hub (registry/timm.json)
}

// registry/timm.json: timm's Hub weights as TIMM_* tags, with timm's
// preprocessing and, for ConvNeXt, the key rules of timm's module layout.
TEST(RegistryBuiltin, TimmEntries) {
  Registry r = Registry::builtin();
  const auto& m = r.require("resnet50");
  EXPECT_EQ(m.default_tag, "IMAGENET1K_V2");  // timm.json adds tags, the default stays torchvision's
  const auto& a1 = m.require_weights("TIMM_A1_IN1K");
  EXPECT_EQ(a1.url, "hf://timm/resnet50.a1_in1k/model.safetensors");
  EXPECT_TRUE(a1.sha256.empty());
  EXPECT_EQ(a1.transforms.crop_size, 224);
  EXPECT_EQ(a1.transforms.resize_size, 235);  // floor(224 / 0.95)
  EXPECT_EQ(a1.transforms.interpolation, "bicubic");
  EXPECT_EQ(a1.categories.size(), 1000u);
  EXPECT_FALSE(a1.meta.contains("key_renames"));
  EXPECT_EQ(a1.meta["timm"]["test_input_size"], nlohmann::json::array({3, 288, 288}));
  const auto& a3 = m.require_weights("TIMM_A3_IN1K");
  EXPECT_EQ(a3.transforms.crop_size, 160);
  EXPECT_EQ(a3.transforms.resize_size, 168);  // floor(160 / 0.95)
  const auto& tv = m.require_weights("TIMM_TV_IN1K");
  EXPECT_EQ(tv.transforms.resize_size, 256);
  EXPECT_EQ(tv.transforms.interpolation, "bilinear");
  const auto& cx = r.require("convnext_tiny").require_weights("TIMM_FB_IN1K");
  EXPECT_EQ(cx.url, "hf://timm/convnext_tiny.fb_in1k/model.safetensors");
  EXPECT_EQ(cx.meta["key_renames"].size(), 16u);
  EXPECT_EQ(cx.meta["key_reshapes"][0][1], nlohmann::json::array({-1, 1, 1}));
  // ViT at 384: the same modelzoo model, built for timm's input size, under a tag of its own.
  const auto& vit384 = r.require("vit_b_16").require_weights("TIMM_AUGREG_IN21K_FT_IN1K_384");
  EXPECT_EQ(vit384.url, "hf://timm/vit_base_patch16_384.augreg_in21k_ft_in1k/model.safetensors");
  EXPECT_EQ(vit384.meta["arch_options"]["image_size"], 384);
  EXPECT_EQ(vit384.transforms.crop_size, 384);
  EXPECT_EQ(vit384.transforms.mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(r.require("regnet_y_400mf").require_weights("TIMM_PYCLS_IN1K").meta["timm"]["layout"], "timm_regnet");
  EXPECT_EQ(r.require("efficientnet_b0").require_weights("TIMM_RA_IN1K").meta["timm"]["layout"],
            "timm_efficientnet");
  std::set<std::string> families;
  std::size_t tags = 0;
  for (const auto& n : r.names()) {
    for (const auto& w : r.require(n).weights) {
      if (w.url.rfind("hf://timm/", 0) == 0) {
        families.insert(n.substr(0, n.find_first_of("_0123456789")));
        ++tags;
      }
    }
  }
  EXPECT_EQ(families, (std::set<std::string>{"convnext", "efficientnet", "regnet", "resnet", "resnext", "vit",
                                             "wide"}));
  EXPECT_EQ(tags, 142u);  // registry/sources/timm_pretrained.json's entries
}

TEST(RegistryBuiltin, Vgg19Entry) {
  Registry r = Registry::builtin();
  const auto& m = r.require("vgg19");
  EXPECT_EQ(m.arch, "vgg19");
  EXPECT_EQ(m.default_tag, "IMAGENET1K_V1");
  EXPECT_EQ(m.origin, "built-in registry/vgg.json");
  const auto& w = m.require_weights("DEFAULT");
  EXPECT_EQ(&w, &m.require_weights("IMAGENET1K_V1"));
  EXPECT_EQ(w.url, "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth");
  EXPECT_EQ(w.sha256.hex, "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44");
  EXPECT_FALSE(w.sha256.is_prefix);
  ASSERT_TRUE(w.size.has_value());
  EXPECT_EQ(*w.size, 574673361u);
  EXPECT_EQ(w.file_name, "vgg19-dcbb9e9d.pth");
  ASSERT_EQ(w.categories.size(), 1000u);
  EXPECT_EQ(w.categories.front(), "tench");
  EXPECT_EQ(w.categories.back(), "toilet tissue");
  EXPECT_EQ(w.transforms.resize_size, 256);
  EXPECT_EQ(w.transforms.crop_size, 224);
  EXPECT_EQ(w.transforms.interpolation, "bilinear");
  EXPECT_EQ(w.transforms.mean, (std::array<double, 3>{0.485, 0.456, 0.406}));
  EXPECT_EQ(w.transforms.std, (std::array<double, 3>{0.229, 0.224, 0.225}));
  EXPECT_EQ(w.transforms.value_scale, 1.0);
  EXPECT_EQ(w.transforms.channel_order, "RGB");
  EXPECT_EQ(w.meta["num_params"], 143667240);
  EXPECT_DOUBLE_EQ(w.meta["metrics"]["ImageNet-1K"]["acc@1"].get<double>(), 72.376);
  EXPECT_EQ(w.meta["min_size"], nlohmann::json::array({32, 32}));
}

TEST(RegistryBuiltin, KnownFullHashesAndSizes) {
  Registry r = Registry::builtin();
  const auto& r18 = r.require("resnet18").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(r18.sha256.hex, "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec");
  EXPECT_EQ(r18.size, 46830571u);
  const auto& r50 = r.require("resnet50").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(r50.size, 102530333u);
  EXPECT_FALSE(r50.sha256.is_prefix);
  const auto& alex = r.require("alexnet").require_weights("DEFAULT");
  EXPECT_EQ(alex.sha256.hex, "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02");
  EXPECT_EQ(alex.size, 244408911u);
  EXPECT_EQ(alex.hash_confidence, "multiple_sources");
  EXPECT_EQ(alex.size_confidence, "multiple_sources");
  const auto& ghost = r.require("convnext_large").require_weights("DEFAULT");
  EXPECT_TRUE(ghost.sha256.is_prefix);
  EXPECT_FALSE(ghost.size.has_value());  // not publicly known: never invented
  EXPECT_EQ(ghost.hash_confidence, "");
}

// registry/sources/torchvision_0.14_hashes.tsv through scripts/gen_registry.py.
TEST(RegistryBuiltin, PinnedValuesCarryTheirConfidence) {
  Registry r = Registry::builtin();
  std::size_t full = 0, single = 0, sizes = 0, single_sizes = 0;
  for (const auto& n : r.names()) {
    for (const auto& w : r.require(n).weights) {
      if (w.sha256.empty()) continue;  // hf:// entries: the Hub's ETag identifies the file
      if (!w.sha256.is_prefix) {
        ++full;
        EXPECT_THAT(w.hash_confidence, ::testing::AnyOf("multiple_sources", "single_source")) << n << ":" << w.tag;
        single += w.hash_confidence == "single_source";
      } else {
        EXPECT_EQ(w.hash_confidence, "") << n << ":" << w.tag;
      }
      if (w.size) {
        ++sizes;
        single_sizes += w.size_confidence == "single_source";
      }
    }
  }
  EXPECT_EQ(full, 68u);
  EXPECT_EQ(single, 15u);
  EXPECT_EQ(sizes, 38u);
  EXPECT_EQ(single_sizes, 14u);
  const auto& maxvit = r.require("maxvit_t").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(maxvit.sha256.hex, "bc5ab103d47a7c6c02dc35bf65796b3a6cccf3d51bce330326dbdc634a3ac0e1");
  EXPECT_EQ(maxvit.hash_confidence, "single_source");
  EXPECT_EQ(maxvit.size, 124538661u);
  EXPECT_EQ(maxvit.size_confidence, "single_source");
  const auto& r34 = r.require("resnet34").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(r34.hash_confidence, "multiple_sources");
  EXPECT_EQ(r34.size_confidence, "single_source");
}

// The files behind torchvision 0.14's EfficientNet V1 URLs do not hash to the
// prefix in their names (pytorch/vision#7744): they are pinned by their
// observed digest, so the real file is accepted and a file matching only the
// name's prefix is not.
TEST(RegistryBuiltin, EfficientNetV1IsPinnedByItsObservedHash) {
  Registry r = Registry::builtin();
  const std::vector<std::pair<std::string, std::string>> observed = {
      {"efficientnet_b0", "7f5810bc96def8f7552d5b7e68d53c4786f81167d28291b21c0d90e1fca14934"},
      {"efficientnet_b2", "c35c147384e385a5bab5a8eabdabbe5a3df0487ee4a554108626ae474a5bf755"},
      {"efficientnet_b3", "b3899882250c22946d0229d266049fcd133c169233530b36b9ffa7983988362f"},
      {"efficientnet_b4", "23ab8bcd5bdbef61a7a43b91adcad81f622fd7f36fb4935a569828d77888c44e"},
      {"efficientnet_b5", "1a07897c0d357db7981640f6be44a63420f11deb932344a69768b62ebe272946"},
      {"efficientnet_b6", "24a108a596a00ad522bdfb9a2d98a9bd31819dfd7e37dd96bad6bb5bc00d6015"},
      {"efficientnet_b7", "c5b4e57e0da1a10bb4f8a5b410dd3b7b6e7461f9b757209be29409707c3d87dd"}};
  for (const auto& [model, digest] : observed) {
    const auto& w = r.require(model).require_weights("IMAGENET1K_V1");
    EXPECT_EQ(w.sha256.hex, digest) << model;
    EXPECT_FALSE(w.sha256.is_prefix) << model;
    const std::string prefix = modelzoo::registry::name_hash_prefix(w.file_name);
    EXPECT_EQ(prefix.size(), 8u) << w.file_name;
    EXPECT_NE(digest.substr(0, 8), prefix) << model << ": the name's token is not the content's prefix";
    EXPECT_TRUE(w.sha256.matches(digest));
    EXPECT_FALSE(w.sha256.matches(prefix + digest.substr(8))) << model;
  }
  EXPECT_EQ(r.require("efficientnet_b0").require_weights("IMAGENET1K_V1").hash_confidence, "multiple_sources");
  EXPECT_EQ(r.require("efficientnet_b2").require_weights("IMAGENET1K_V1").hash_confidence, "single_source");
  // No digest is known for b1's V1 file: it keeps the name's prefix (registry/README.md).
  EXPECT_TRUE(r.require("efficientnet_b1").require_weights("IMAGENET1K_V1").sha256.is_prefix);
}

TEST(RegistryBuiltin, PrefixHashesFollowTorchHub) {
  Registry r = Registry::builtin();
  const auto& vgg11 = r.require("vgg11").require_weights("IMAGENET1K_V1");
  EXPECT_TRUE(vgg11.sha256.is_prefix);
  EXPECT_EQ(vgg11.sha256.hex, "8a719046");
  EXPECT_FALSE(vgg11.size.has_value());
  const auto& mnas = r.require("mnasnet0_5").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(mnas.file_name, "mnasnet0.5_top1_67.823-3ffadce67e.pth");
  EXPECT_EQ(mnas.sha256.hex, "3ffadce67e");
}

TEST(RegistryBuiltin, Vgg16FeaturesEntry) {
  Registry r = Registry::builtin();
  const auto& m = r.require("vgg16");
  EXPECT_EQ(m.default_tag, "IMAGENET1K_V1");
  const auto& f = m.require_weights("IMAGENET1K_FEATURES");
  EXPECT_EQ(f.url, "https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth");
  EXPECT_EQ(f.sha256.hex, "88682ab5");
  EXPECT_TRUE(f.categories.empty());  // the classifier of these weights is not trained
  EXPECT_EQ(f.transforms.mean, (std::array<double, 3>{0.48235, 0.45882, 0.40784}));
  for (double s : f.transforms.std) EXPECT_DOUBLE_EQ(s, 1.0 / 255.0);
  EXPECT_TRUE(f.meta["metrics"]["ImageNet-1K"]["acc@1"].is_null());
}

TEST(RegistryBuiltin, DefaultsAndTransformsFollowTorchvision) {
  Registry r = Registry::builtin();
  EXPECT_EQ(r.require("resnet50").default_tag, "IMAGENET1K_V2");
  EXPECT_EQ(r.require("resnet50").require_weights("DEFAULT").transforms.resize_size, 232);
  EXPECT_EQ(r.require("regnet_y_128gf").default_tag, "IMAGENET1K_SWAG_E2E_V1");
  const auto& b7 = r.require("efficientnet_b7").require_weights("DEFAULT");
  EXPECT_EQ(b7.transforms.interpolation, "bicubic");
  EXPECT_EQ(b7.transforms.crop_size, 600);
  const auto& v2l = r.require("efficientnet_v2_l").require_weights("DEFAULT");
  EXPECT_EQ(v2l.transforms.mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  const auto& inc = r.require("inception_v3").require_weights("DEFAULT");
  EXPECT_EQ(inc.transforms.crop_size, 299);
  EXPECT_EQ(inc.transforms.resize_size, 342);
  EXPECT_EQ(inc.meta["arch_options"],
            (nlohmann::json{{"transform_input", true}, {"init_weights", false}}));
  EXPECT_EQ(r.require("vit_h_14").require_weights("DEFAULT").meta["arch_options"]["image_size"], 518);
  EXPECT_EQ(r.require("maxvit_t").require_weights("DEFAULT").meta["arch_options"]["input_size"],
            nlohmann::json::array({224, 224}));
  EXPECT_EQ(r.require("vit_b_16").require_weights("IMAGENET1K_SWAG_E2E_V1").meta["license"],
            "https://github.com/facebookresearch/SWAG/blob/main/LICENSE");
}

TEST(RegistryBuiltin, EveryEntryIsUsable) {
  Registry r = Registry::builtin();
  std::set<std::string> file_names;
  for (const auto& n : classification_names(r)) {
    const auto& m = r.require(n);
    EXPECT_EQ(m.arch, n);
    ASSERT_NE(m.find_weights("DEFAULT"), nullptr) << n;
    for (const auto& w : m.weights) {
      SCOPED_TRACE(n + "/" + w.tag);
      if (w.url.rfind("hf://", 0) == 0) continue;  // timm's Hub weights: RegistryBuiltin.TimmEntries
      EXPECT_EQ(w.url.rfind("https://download.pytorch.org/models/", 0), 0u);
      EXPECT_TRUE(is_safe_file_name(w.file_name));
      EXPECT_TRUE(file_names.insert(w.file_name).second) << "two entries share " << w.file_name;
      // The name carries the hash prefix, except where the served file is known not to match it.
      const bool observed = n.rfind("efficientnet_b", 0) == 0 && w.tag == "IMAGENET1K_V1" && !w.sha256.is_prefix;
      EXPECT_EQ(w.file_name.find(w.sha256.hex.substr(0, 8)) != std::string::npos, !observed);
      EXPECT_GE(w.sha256.hex.size(), 8u);
      EXPECT_TRUE(w.categories.size() == 1000u || (n == "vgg16" && w.tag == "IMAGENET1K_FEATURES"));
      EXPECT_GT(w.meta["num_params"].get<int64_t>(), 0);
    }
  }
  EXPECT_EQ(file_names.size(), 115u);
}

TEST(RegistryBuiltin, CachedAndFast) {
  Registry::builtin();  // first parse
  const auto t0 = std::chrono::steady_clock::now();
  Registry r = Registry::builtin();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(classification_names(r).size(), 80u);
  EXPECT_LT(ms, 200.0) << "builtin() should return the parsed registry cached in a static";
  const auto tables = r.category_table_names();
  EXPECT_NE(std::find(tables.begin(), tables.end(), "imagenet1k"), tables.end());
}

TEST(RegistryBuiltin, RequireSuggestsCloseNames) {
  Registry r = Registry::builtin();
  try {
    r.require("vgg91");
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown model \"vgg91\"; did you mean \"vgg19\""));
    EXPECT_THAT(e.what(), HasSubstr("(" + std::to_string(r.size()) + " models are registered)"));
  }
  try {
    r.require("resnet");
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_THAT(e.what(), HasSubstr("did you mean"));
    EXPECT_THAT(e.what(), HasSubstr("\"resnet18\""));
  }
  try {
    r.require("completely_unrelated_name");
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_EQ(std::string(e.what()), "unknown model \"completely_unrelated_name\" (" + std::to_string(r.size()) +
                                         " models are registered)");
  }
  EXPECT_EQ(r.find("vgg91"), nullptr);
  EXPECT_EQ(Registry().find("vgg19"), nullptr);
}

TEST(RegistryBuiltin, RequireWeightsListsKnownTags) {
  Registry r = Registry::builtin();
  try {
    r.require("resnet50").require_weights("IMAGENET1K_V3");
    FAIL() << "expected a RegistryError";
  } catch (const RegistryError& e) {
    EXPECT_EQ(std::string(e.what()),
              "model \"resnet50\" has no weights \"IMAGENET1K_V3\"; did you mean \"IMAGENET1K_V1\" or "
              "\"IMAGENET1K_V2\"?; known tags: IMAGENET1K_V1, IMAGENET1K_V2 (default), TIMM_A1H_IN1K, "
              "TIMM_A1_IN1K, TIMM_A2_IN1K, TIMM_A3_IN1K, TIMM_AM_IN1K, TIMM_B1K_IN1K, TIMM_B2K_IN1K, TIMM_BT_IN1K, "
              "TIMM_C1_IN1K, TIMM_C2_IN1K, TIMM_D_IN1K, TIMM_FB_SSL_YFCC100M_FT_IN1K, TIMM_FB_SWSL_IG1B_FT_IN1K, "
              "TIMM_GLUON_IN1K, TIMM_RAM_IN1K, TIMM_RA_IN1K, TIMM_TV2_IN1K, TIMM_TV_IN1K, "
              "DEFAULT (defined in built-in registry/timm.json)");
  }
  EXPECT_EQ(r.require("resnet50").find_weights("imagenet1k_v1"), nullptr);
}
