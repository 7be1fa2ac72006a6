#include "modelzoo/models/catalog.h"

#include <algorithm>
#include <stdexcept>

#include "modelzoo/error.h"
#include "modelzoo/models/vgg.h"

namespace modelzoo::models {
namespace {

// Turns a typed builder (returning VGG, ResNet, ...) into a catalog builder.
template <auto Builder>
Classifier erase(const ArchArgs& args) {
  return Classifier(Builder(args).ptr());
}

// The table: one line per architecture, {name, family, builder}.
std::vector<ArchInfo> table() {
  return {
      {"vgg11", "vgg", erase<vgg11>},
      {"vgg11_bn", "vgg", erase<vgg11_bn>},
      {"vgg13", "vgg", erase<vgg13>},
      {"vgg13_bn", "vgg", erase<vgg13_bn>},
      {"vgg16", "vgg", erase<vgg16>},
      {"vgg16_bn", "vgg", erase<vgg16_bn>},
      {"vgg19", "vgg", erase<vgg19>},
      {"vgg19_bn", "vgg", erase<vgg19_bn>},
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
