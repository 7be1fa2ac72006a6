#pragma once
// Typed readers for ArchArgs::extra beyond catalog.h's number/bool helpers:
// integers and fixed-length lists of booleans, each refusing a value of the
// wrong kind with an error naming the architecture and the key.
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"

namespace modelzoo::models::detail {

// args.extra[key] as an integer, `fallback` when absent. A JSON number with a
// fractional part (or a non-number) is refused.
inline int64_t extra_int(const ArchArgs& args, const std::string& arch, const std::string& key,
                         int64_t fallback) {
  if (!args.extra.is_object() || !args.extra.contains(key)) return fallback;
  const auto& v = args.extra.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  throw Error(arch + ": extra argument '" + key + "' must be an integer, got " + v.dump());
}

// args.extra[key] as N booleans, `fallback` when absent or null.
template <std::size_t N>
std::array<bool, N> extra_bools(const ArchArgs& args, const std::string& arch,
                                const std::string& key, const std::array<bool, N>& fallback) {
  if (!args.extra.is_object() || !args.extra.contains(key)) return fallback;
  const auto& v = args.extra.at(key);
  if (v.is_null()) return fallback;
  if (!v.is_array() || v.size() != N) {
    throw Error(arch + ": extra argument '" + key + "' must be a list of " + std::to_string(N) +
                " booleans, got " + v.dump());
  }
  std::array<bool, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    if (!v[i].is_boolean()) {
      throw Error(arch + ": extra argument '" + key + "' must be a list of " + std::to_string(N) +
                  " booleans, got " + v.dump());
    }
    out[i] = v[i].get<bool>();
  }
  return out;
}

}  // namespace modelzoo::models::detail
