// Registry documents (JSON), applied with Registry::add_json (the parser and
// validator behind user registries and parse_registry) on top of a small base
// registry holding a category table and one model, so a document may refer
// to both; the built-in registry is left out to keep each run cheap.
#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "modelzoo/registry/registry.h"

namespace {

const modelzoo::registry::Registry& base() {
  static const modelzoo::registry::Registry r = [] {
    modelzoo::registry::Registry b;
    b.add_json(R"({"format_version": 1, "categories": {"imagenet1k": ["tench", "goldfish", "shark"]},
      "models": {"resnet18": {"arch": "resnet18", "default": "IMAGENET1K_V1", "weights": {"IMAGENET1K_V1": {
        "url": "https://download.pytorch.org/models/resnet18-f37072fd.pth", "sha256": "f37072fd47e89c7f6f5f7b2a0c4c1b8e7c1f3b6d2a4e5f60718293a4b5c6d7e8",
        "categories": "imagenet1k"}}}}})",
               "base.json");
    return b;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  modelzoo::registry::Registry r = base();
  try {
    r.add_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const modelzoo::Error&) {
  }
  return 0;
}

std::vector<std::string> mz_fuzz_seeds() {
  return {
      R"({"format_version": 1, "models": {"mynet": {"arch": "resnet18", "default": "V1", "weights": {"V1": {
        "url": "https://example.org/mynet-0123abcd.pth", "sha256": "0123abcd", "size": 1234,
        "transforms": {"resize_size": 256, "crop_size": 224, "interpolation": "bilinear",
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "categories": "imagenet1k", "meta": {"num_params": 11689512, "min_size": [1, 1]}}}}}})",
      R"({"format_version": 1, "categories": {"two": ["cat", "dog"]}, "models": {"vgg19": {"default": "MINE",
        "weights": {"MINE": {"url": "file:///data/vgg19.pth", "file_name": "vgg19-mine.pth",
        "sha256": "dcbb9e9d0000000000000000000000000000000000000000000000000000beef", "categories": "two",
        "rename": [{"from": "^features\\.", "to": "f."}]}}}}})",
      R"({"format_version": 1, "models": {}})",
  };
}
