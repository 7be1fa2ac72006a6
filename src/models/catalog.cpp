#include "modelzoo/models/catalog.h"

#include <algorithm>
#include <stdexcept>

#include "modelzoo/error.h"
#include "modelzoo/models/alexnet.h"
#include "modelzoo/models/convnext.h"
#include "modelzoo/models/densenet.h"
#include "modelzoo/models/efficientnet.h"
#include "modelzoo/models/googlenet.h"
#include "modelzoo/models/inception.h"
#include "modelzoo/models/maxvit.h"
#include "modelzoo/models/mnasnet.h"
#include "modelzoo/models/mobilenetv2.h"
#include "modelzoo/models/mobilenetv3.h"
#include "modelzoo/models/regnet.h"
#include "modelzoo/models/resnet.h"
#include "modelzoo/models/shufflenetv2.h"
#include "modelzoo/models/squeezenet.h"
#include "modelzoo/models/swin_transformer.h"
#include "modelzoo/models/vgg.h"
#include "modelzoo/models/vision_transformer.h"

namespace modelzoo::models {
namespace {

// Turns a typed builder (returning VGG, ResNet, ...) into a catalog builder.
template <auto Builder>
Classifier erase(const ArchArgs& args) {
  return Classifier(Builder(args).ptr());
}

// ViT weights saved before torchvision 0.13 name the MLP layers linear_1 /
// linear_2; MLPBlock._load_from_state_dict renames them to 0 / 3.
const std::vector<std::pair<std::string, std::string>> kVitMlpRenames = {
    {R"((.*\.mlp)\.linear_1\.(weight|bias))", "$1.0.$2"},
    {R"((.*\.mlp)\.linear_2\.(weight|bias))", "$1.3.$2"},
};

// The table: one line per architecture, {name, family, builder}.
std::vector<ArchInfo> table() {
  return {
      {"convnext_tiny", "convnext", erase<convnext_tiny>},
      {"convnext_small", "convnext", erase<convnext_small>},
      {"convnext_base", "convnext", erase<convnext_base>},
      {"convnext_large", "convnext", erase<convnext_large>},
      {"efficientnet_b0", "efficientnet", erase<efficientnet_b0>},
      {"efficientnet_b1", "efficientnet", erase<efficientnet_b1>},
      {"efficientnet_b2", "efficientnet", erase<efficientnet_b2>},
      {"efficientnet_b3", "efficientnet", erase<efficientnet_b3>},
      {"efficientnet_b4", "efficientnet", erase<efficientnet_b4>},
      {"efficientnet_b5", "efficientnet", erase<efficientnet_b5>},
      {"efficientnet_b6", "efficientnet", erase<efficientnet_b6>},
      {"efficientnet_b7", "efficientnet", erase<efficientnet_b7>},
      {"efficientnet_v2_s", "efficientnet", erase<efficientnet_v2_s>},
      {"efficientnet_v2_m", "efficientnet", erase<efficientnet_v2_m>},
      {"efficientnet_v2_l", "efficientnet", erase<efficientnet_v2_l>},
      {"regnet_x_400mf", "regnet", erase<regnet_x_400mf>},
      {"regnet_x_800mf", "regnet", erase<regnet_x_800mf>},
      {"regnet_x_1_6gf", "regnet", erase<regnet_x_1_6gf>},
      {"regnet_x_3_2gf", "regnet", erase<regnet_x_3_2gf>},
      {"regnet_x_8gf", "regnet", erase<regnet_x_8gf>},
      {"regnet_x_16gf", "regnet", erase<regnet_x_16gf>},
      {"regnet_x_32gf", "regnet", erase<regnet_x_32gf>},
      {"regnet_y_400mf", "regnet", erase<regnet_y_400mf>},
      {"regnet_y_800mf", "regnet", erase<regnet_y_800mf>},
      {"regnet_y_1_6gf", "regnet", erase<regnet_y_1_6gf>},
      {"regnet_y_3_2gf", "regnet", erase<regnet_y_3_2gf>},
      {"regnet_y_8gf", "regnet", erase<regnet_y_8gf>},
      {"regnet_y_16gf", "regnet", erase<regnet_y_16gf>},
      {"regnet_y_32gf", "regnet", erase<regnet_y_32gf>},
      {"regnet_y_128gf", "regnet", erase<regnet_y_128gf>},
      {"googlenet", "googlenet", erase<googlenet>, {}, {R"(aux[12]\..*)"},
       {{"transform_input", true}, {"aux_logits", false}}},
      {"inception_v3", "inception", erase<inception_v3>, {}, {R"(AuxLogits\..*)"},
       {{"transform_input", true}}},
      {"mnasnet0_5", "mnasnet", erase<mnasnet0_5>},
      {"mnasnet0_75", "mnasnet", erase<mnasnet0_75>},
      {"mnasnet1_0", "mnasnet", erase<mnasnet1_0>},
      {"mnasnet1_3", "mnasnet", erase<mnasnet1_3>},
      {"mobilenet_v2", "mobilenet", erase<mobilenet_v2>},
      {"mobilenet_v3_large", "mobilenet", erase<mobilenet_v3_large>},
      {"mobilenet_v3_small", "mobilenet", erase<mobilenet_v3_small>},
      {"shufflenet_v2_x0_5", "shufflenet", erase<shufflenet_v2_x0_5>},
      {"shufflenet_v2_x1_0", "shufflenet", erase<shufflenet_v2_x1_0>},
      {"shufflenet_v2_x1_5", "shufflenet", erase<shufflenet_v2_x1_5>},
      {"shufflenet_v2_x2_0", "shufflenet", erase<shufflenet_v2_x2_0>},
      {"alexnet", "alexnet", erase<alexnet>},
      {"densenet121", "densenet", erase<densenet121>, densenet_key_renames()},
      {"densenet161", "densenet", erase<densenet161>, densenet_key_renames()},
      {"densenet169", "densenet", erase<densenet169>, densenet_key_renames()},
      {"densenet201", "densenet", erase<densenet201>, densenet_key_renames()},
      {"squeezenet1_0", "squeezenet", erase<squeezenet1_0>},
      {"squeezenet1_1", "squeezenet", erase<squeezenet1_1>},
      {"resnet18", "resnet", erase<resnet18>},
      {"resnet34", "resnet", erase<resnet34>},
      {"resnet50", "resnet", erase<resnet50>},
      {"resnet101", "resnet", erase<resnet101>},
      {"resnet152", "resnet", erase<resnet152>},
      {"resnext50_32x4d", "resnet", erase<resnext50_32x4d>},
      {"resnext101_32x8d", "resnet", erase<resnext101_32x8d>},
      {"resnext101_64x4d", "resnet", erase<resnext101_64x4d>},
      {"wide_resnet50_2", "resnet", erase<wide_resnet50_2>},
      {"wide_resnet101_2", "resnet", erase<wide_resnet101_2>},
      {"vgg11", "vgg", erase<vgg11>},
      {"vgg11_bn", "vgg", erase<vgg11_bn>},
      {"vgg13", "vgg", erase<vgg13>},
      {"vgg13_bn", "vgg", erase<vgg13_bn>},
      {"vgg16", "vgg", erase<vgg16>},
      {"vgg16_bn", "vgg", erase<vgg16_bn>},
      {"vgg19", "vgg", erase<vgg19>},
      {"vgg19_bn", "vgg", erase<vgg19_bn>},
      {"vit_b_16", "vit", erase<vit_b_16>, kVitMlpRenames},
      {"vit_b_32", "vit", erase<vit_b_32>, kVitMlpRenames},
      {"vit_l_16", "vit", erase<vit_l_16>, kVitMlpRenames},
      {"vit_l_32", "vit", erase<vit_l_32>, kVitMlpRenames},
      {"vit_h_14", "vit", erase<vit_h_14>, kVitMlpRenames},
      {"swin_t", "swin", erase<swin_t>},
      {"swin_s", "swin", erase<swin_s>},
      {"swin_b", "swin", erase<swin_b>},
      {"swin_v2_t", "swin", erase<swin_v2_t>},
      {"swin_v2_s", "swin", erase<swin_v2_s>},
      {"swin_v2_b", "swin", erase<swin_v2_b>},
      {"maxvit_t", "maxvit", erase<maxvit_t>},
  };
}

std::vector<ArchInfo> sorted_table() {
  std::vector<ArchInfo> t = table();
  std::sort(t.begin(), t.end(), [](const ArchInfo& a, const ArchInfo& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (t[i].name == t[i - 1].name) {
      throw std::logic_error("models catalog: architecture '" + t[i].name + "' listed twice");
    }
  }
  return t;
}

}  // namespace

const std::vector<ArchInfo>& architectures() {
  static const std::vector<ArchInfo> all = sorted_table();
  return all;
}

const ArchInfo* find_architecture(const std::string& name) {
  const auto& all = architectures();
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const ArchInfo& a, const std::string& n) { return a.name < n; });
  return (it != all.end() && it->name == name) ? &*it : nullptr;
}

Classifier build_architecture(const std::string& name, const ArchArgs& args) {
  const ArchInfo* info = find_architecture(name);
  if (!info) {
    std::string known;
    for (const auto& a : architectures()) known += (known.empty() ? "" : ", ") + a.name;
    throw Error("unknown architecture '" + name + "'; known architectures: " + known);
  }
  return info->build(args);
}

std::vector<std::string> list_models() {
  std::vector<std::string> names;
  for (const auto& a : architectures()) names.push_back(a.name);
  return names;
}

}  // namespace modelzoo::models
