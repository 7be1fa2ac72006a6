#pragma once
// Helpers shared by the io tests: flattening a Value tree the way the corpus'
// expected/*.json and the Python oracles do, writing raw bytes to files.

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>
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

/// The JSON entry make_expected.py writes for a tensor.
inline nlohmann::json tensor_entry(const at::Tensor& t) {
  at::Tensor d = t.to(c10::ScalarType::Double);
  return {{"kind", "tensor"},
          {"dtype", dtype_name(t.scalar_type())},
          {"shape", t.sizes().vec()},
          {"stride", t.strides().vec()},
          {"storage_offset", t.storage_offset()},
          {"sum", d.sum().item<double>()},
          {"abs_sum", d.abs().sum().item<double>()}};
}

/// Flattens like make_expected.py's walk(): dict keys and sequence indexes
/// joined with '/'.
inline void flatten(const Value& v, const std::string& path, std::map<std::string, nlohmann::json>& out) {
  auto join = [&](const std::string& k) { return path.empty() ? k : path + "/" + k; };
  switch (v.kind()) {
    case Value::Kind::Tensor: out[path] = tensor_entry(v.as_tensor()); return;
    case Value::Kind::Dict:
      for (const auto& [k, x] : v.entries()) {
        std::string key = k.is_str() ? k.as_str() : k.is_int() ? k.int_text() : k.repr();
        flatten(x, join(key), out);
      }
      return;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (std::size_t i = 0; i < v.items().size(); ++i) flatten(v.items()[i], join(std::to_string(i)), out);
      return;
    case Value::Kind::Bool: out[path] = {{"kind", "bool"}, {"value", v.as_bool()}}; return;
    case Value::Kind::Int: out[path] = {{"kind", "int"}, {"value", v.as_int()}}; return;
    case Value::Kind::BigInt: out[path] = {{"kind", "int"}, {"value", v.int_text()}}; return;
    case Value::Kind::Float: out[path] = {{"kind", "float"}, {"value", v.as_float()}}; return;
    case Value::Kind::Str: out[path] = {{"kind", "str"}, {"value", v.as_str()}}; return;
    case Value::Kind::Bytes: out[path] = {{"kind", "bytes"}, {"value", v.as_bytes()}}; return;
    case Value::Kind::None: out[path] = {{"kind", "none"}, {"value", nullptr}}; return;
    default: out[path] = {{"kind", "object"}, {"type", v.kind_name()}}; return;
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
