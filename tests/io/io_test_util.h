#pragma once
// Helpers shared by the io tests: flattening a Value tree the way the corpus'
// expected/*.json and the Python oracles do, writing raw bytes to files.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>
#include <ATen/ops/view_as_real.h>
#include <nlohmann/json.hpp>

#include "modelzoo/io/value.h"

namespace io_test {

using modelzoo::io::Value;

/// Python's name of a dtype ("float32", "int64", ...).
inline std::string dtype_name(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Short: return "int16";
    case c10::ScalarType::Char: return "int8";
    case c10::ScalarType::Byte: return "uint8";
    case c10::ScalarType::Bool: return "bool";
    case c10::ScalarType::ComplexFloat: return "complex64";
    case c10::ScalarType::ComplexDouble: return "complex128";
    default: return c10::toString(t);
  }
}

/// The JSON entry make_expected.py writes for a tensor (complex tensors sum
/// their real and imaginary parts, as io_common.py does).
inline nlohmann::json tensor_entry(const at::Tensor& t) {
  at::Tensor d = t.is_complex() ? at::view_as_real(t).to(c10::ScalarType::Double) : t.to(c10::ScalarType::Double);
  return {{"kind", "tensor"},
          {"dtype", dtype_name(t.scalar_type())},
          {"shape", t.sizes().vec()},
          {"stride", t.strides().vec()},
          {"storage_offset", t.storage_offset()},
          {"sum", d.sum().item<double>()},
          {"abs_sum", d.abs().sum().item<double>()}};
}

/// Bytes as the Python oracles print them (latin-1 decoded, so UTF-8 here).
inline std::string latin1(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

/// Index of a tensor's storage among the distinct storages met so far, by
/// data address (as io_common.py numbers them).
struct StorageIds {
  std::map<const void*, int> ids;
  int operator()(const at::Tensor& t) {
    const void* p = t.storage().data();
    return ids.emplace(p, static_cast<int>(ids.size())).first->second;
  }
};

/// Flattens like make_expected.py's walk(): dict keys and sequence indexes
/// joined with '/'.
inline void flatten(const Value& v, const std::string& path, std::map<std::string, nlohmann::json>& out,
                    StorageIds* ids = nullptr) {
  StorageIds local;
  if (!ids) ids = &local;
  auto join = [&](const std::string& k) { return path.empty() ? k : path + "/" + k; };
  switch (v.kind()) {
    case Value::Kind::Tensor:
      out[path] = tensor_entry(v.as_tensor());
      out[path]["storage"] = (*ids)(v.as_tensor());
      return;
    case Value::Kind::Dict:
      for (const auto& [k, x] : v.entries()) {
        std::string key = k.is_str() ? k.as_str() : k.is_int() ? k.int_text() : k.repr();
        flatten(x, join(key), out, ids);
      }
      return;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (std::size_t i = 0; i < v.items().size(); ++i) flatten(v.items()[i], join(std::to_string(i)), out, ids);
      return;
    case Value::Kind::Bool: out[path] = {{"kind", "bool"}, {"value", v.as_bool()}}; return;
    case Value::Kind::Int: out[path] = {{"kind", "int"}, {"value", v.as_int()}}; return;
    case Value::Kind::BigInt: out[path] = {{"kind", "int"}, {"value", v.int_text()}}; return;
    case Value::Kind::Float: out[path] = {{"kind", "float"}, {"value", v.as_float()}}; return;
    case Value::Kind::Str: out[path] = {{"kind", "str"}, {"value", v.as_str()}}; return;
    case Value::Kind::Bytes: out[path] = {{"kind", "bytes"}, {"value", latin1(v.as_bytes())}}; return;
    case Value::Kind::Complex:
      out[path] = {{"kind", "complex"}, {"value", {v.as_complex().real(), v.as_complex().imag()}}};
      return;
    case Value::Kind::Global: out[path] = {{"kind", "global"}, {"value", v.global_name()}}; return;
    case Value::Kind::Set: {
      std::vector<int64_t> items;
      for (const auto& x : v.items()) items.push_back(x.as_int());
      std::sort(items.begin(), items.end());
      out[path] = {{"kind", "set"}, {"value", items}};
      return;
    }
    case Value::Kind::None: out[path] = {{"kind", "none"}, {"value", nullptr}}; return;
    default: out[path] = {{"kind", "object"}, {"type", v.kind_name()}}; return;
  }
}

/// What compare_entries checks of a tensor besides dtype, shape and sums.
struct CompareLayout {
  bool strides = true;  ///< stride and storage_offset
  bool storage = true;  ///< which tensors share a storage
};

/// Compares flattened entries `have` with `want` (a JSON object in the same
/// layout), reporting each difference as a gtest failure mentioning `what`.
inline void compare_entries(const nlohmann::json& want, const std::map<std::string, nlohmann::json>& have,
                            const std::string& what, CompareLayout layout = {}) {
  EXPECT_EQ(have.size(), want.size()) << what;
  for (auto it = want.begin(); it != want.end(); ++it) {
    const std::string& path = it.key();
    const auto& w = it.value();
    auto found = have.find(path);
    if (found == have.end()) {
      ADD_FAILURE() << what << ": missing entry " << path;
      continue;
    }
    const auto& h = found->second;
    if (h["kind"] != w["kind"]) {
      ADD_FAILURE() << what << ": " << path << " is " << h.dump() << ", expected " << w.dump();
      continue;
    }
    if (w["kind"] != "tensor") {
      EXPECT_EQ(h["value"], w["value"]) << what << ": " << path;
      continue;
    }
    EXPECT_EQ(h["dtype"], w["dtype"]) << what << ": " << path;
    EXPECT_EQ(h["shape"], w["shape"]) << what << ": " << path;
    if (layout.strides) {
      EXPECT_EQ(h["stride"], w["stride"]) << what << ": " << path;
      EXPECT_EQ(h["storage_offset"], w["storage_offset"]) << what << ": " << path;
    }
    if (layout.storage && w.contains("storage")) EXPECT_EQ(h["storage"], w["storage"]) << what << ": " << path;
    const double scale = std::max(1.0, w["abs_sum"].get<double>());
    EXPECT_NEAR(h["sum"].get<double>(), w["sum"].get<double>(), 1e-9 * scale) << what << ": " << path;
    EXPECT_NEAR(h["abs_sum"].get<double>(), w["abs_sum"].get<double>(), 1e-9 * scale) << what << ": " << path;
  }
  for (const auto& [path, entry] : have) {
    EXPECT_TRUE(want.contains(path)) << what << ": unexpected entry " << path;
  }
}

/// Writes `bytes` to `file` (replacing it).
inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The whole content of `file`.
inline std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream f(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace io_test
