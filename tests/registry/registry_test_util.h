#pragma once
// Helpers shared by the registry tests: a small valid document to mutate,
// and a way to capture the RegistryError a document produces.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/registry/registry.h"

namespace mzt {

inline const char* kHashA = "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44";
inline const char* kHashB = "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a";

/// A valid document: table "tiny" and model "m1" with tags T1 (default) and T2.
inline nlohmann::json valid_doc() {
  return nlohmann::json::parse(R"({
    "format_version": 1,
    "categories": {"tiny": ["cat", "dog", "bird"]},
    "models": {
      "m1": {
        "arch": "vgg19",
        "default": "T1",
        "weights": {
          "T1": {
            "url": "https://example.invalid/models/m1-dcbb9e9d.pth",
            "sha256": "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
            "size": 1234,
            "transforms": {"resize_size": 256, "crop_size": 224, "interpolation": "bilinear",
                           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                           "value_scale": 1, "channel_order": "RGB"},
            "categories": "tiny",
            "meta": {"num_params": 10, "metrics": {"ImageNet-1K": {"acc@1": 1.5, "acc@5": null}},
                     "recipe": "r", "min_size": [32, 32], "arch_options": {"aux_logits": true}}
          },
          "T2": {
            "url": "http://127.0.0.1/m1-v2.pth",
            "sha256_prefix": "0676ba61",
            "file_name": "m1_v2.pth"
          }
        }
      }
    }
  })");
}

/// The message of the RegistryError that adding `text` to `r` throws; a test
/// failure (and "") when nothing is thrown.
inline std::string add_error(modelzoo::registry::Registry& r, const std::string& text,
                             const std::string& origin = "my.json") {
  try {
    r.add_json(text, origin);
  } catch (const modelzoo::RegistryError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a RegistryError for:\n" << text;
  return "";
}

/// As above, on an empty registry.
inline std::string add_error(const std::string& text, const std::string& origin = "my.json") {
  modelzoo::registry::Registry r;
  return add_error(r, text, origin);
}

/// valid_doc() with the value at `pointer` replaced by `value`, as text.
inline std::string with(const std::string& pointer, const nlohmann::json& value) {
  nlohmann::json d = valid_doc();
  d[nlohmann::json::json_pointer(pointer)] = value;
  return d.dump();
}

/// valid_doc() without the value at `pointer`, as text.
inline std::string without(const std::string& pointer) {
  nlohmann::json d = valid_doc();
  nlohmann::json::json_pointer p(pointer);
  d[p.parent_pointer()].erase(p.back());
  return d.dump();
}

}  // namespace mzt
