// Registry documents (JSON): parse_registry validates a document as it would
// apply on top of the built-in registry.
#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "modelzoo/registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    modelzoo::registry::parse_registry(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
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
