#pragma once
// Reading a detection builder's keyword arguments (DetectorArgs::extra).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "modelzoo/detection/detector.h"
#include "modelzoo/error.h"

namespace modelzoo::detection::detail {

/// The builder's arguments: every key must be one of `known`, numbers are
/// checked when read.
class Args {
 public:
  Args(const DetectorArgs& args, std::string builder, const std::vector<std::string>& known)
      : extra_(args.extra), builder_(std::move(builder)) {
    if (!extra_.is_object()) throw Error(builder_ + ": builder arguments must be a JSON object");
    for (const auto& [k, v] : extra_.items()) {
      bool ok = false;
      for (const auto& n : known) ok = ok || n == k;
      if (!ok) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
        throw Error(builder_ + ": unknown builder argument '" + k + "' (known: " + list + ")");
      }
    }
  }
  double number(const std::string& key, double fallback) const {
    auto it = extra_.find(key);
    if (it == extra_.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw Error(builder_ + ": argument '" + key + "' must be a number, got " + it->dump());
    return it->get<double>();
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    auto it = extra_.find(key);
    if (it == extra_.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw Error(builder_ + ": argument '" + key + "' must be an integer, got " + it->dump());
    return it->get<int64_t>();
  }
  // min_size may be a list, as torchvision's (eval uses the last value).
  int64_t last_integer(const std::string& key, int64_t fallback) const {
    auto it = extra_.find(key);
    if (it != extra_.end() && it->is_array() && !it->empty() && it->back().is_number_integer()) {
      return it->back().get<int64_t>();
    }
    return integer(key, fallback);
  }

 private:
  nlohmann::json extra_;
  std::string builder_;
};

}  // namespace modelzoo::detection::detail
