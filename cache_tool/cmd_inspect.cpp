// `inspect`: what a weight file holds (any file, registered or not): format,
// every tensor's name, dtype, shape and bytes, the non-tensor values, and the
// total number of parameters. A container that appears more than once in the
// tree (pickles share objects through their memo) is listed once, at its
// first path; later occurrences are values of kind "shared" naming that path,
// so output stays proportional to the file (60 nested pairs of one tuple are
// 60 entries, not 2^60).
#include <cstdio>
#include <memory>
#include <sstream>
#include <unordered_map>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "commands.h"
#include "inspect_cli.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/io/io.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;
using modelzoo::io::Value;

/// Python's name of a dtype ("float32", "bfloat16", ...).
std::string dtype_name(c10::ScalarType t) {
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
    case c10::ScalarType::ComplexHalf: return "complex32";
    case c10::ScalarType::QInt8: return "qint8";
    case c10::ScalarType::QUInt8: return "quint8";
    case c10::ScalarType::QInt32: return "qint32";
    default: return c10::toString(t);
  }
}

/// A dict key as a path component.
std::string key_text(const Value& k) {
  if (k.is_str()) return k.as_str();
  if (k.is_int() || k.is_bool()) return k.int_text();
  return k.repr();
}

/// Tensors and leaf values, with their '/'-joined paths.
struct Walk {
  json tensors = json::array();
  json values = json::array();
  uint64_t parameters = 0;
  uint64_t tensor_bytes = 0;
  std::unordered_map<const void*, std::string> seen;  // container -> its first path

  void leaf(const std::string& path, const Value& v) {
    json e = {{"name", path}};
    switch (v.kind()) {
      case Value::Kind::None: e.update({{"kind", "none"}, {"value", nullptr}}); break;
      case Value::Kind::Bool: e.update({{"kind", "bool"}, {"value", v.as_bool()}}); break;
      case Value::Kind::Int: e.update({{"kind", "int"}, {"value", v.as_int()}}); break;
      case Value::Kind::BigInt: e.update({{"kind", "int"}, {"value", v.int_text()}}); break;
      case Value::Kind::Float: e.update({{"kind", "float"}, {"value", v.as_float()}}); break;
      case Value::Kind::Complex: {
        const auto c = v.as_complex();
        e.update({{"kind", "complex"}, {"value", {c.real(), c.imag()}}});
        break;
      }
      case Value::Kind::Str: e.update({{"kind", "str"}, {"value", v.as_str()}}); break;
      case Value::Kind::Bytes: {
        const std::string& b = v.as_bytes();
        static const char* hex = "0123456789abcdef";
        std::string h;
        for (std::size_t i = 0; i < b.size() && i < 64; ++i) {
          h += hex[static_cast<unsigned char>(b[i]) >> 4];
          h += hex[static_cast<unsigned char>(b[i]) & 15];
        }
        e.update({{"kind", "bytes"}, {"length", b.size()}, {"value", h + (b.size() > 64 ? "..." : "")}});
        break;
      }
      case Value::Kind::Global: e.update({{"kind", "global"}, {"value", v.global_name()}}); break;
      default: e.update({{"kind", v.kind_name()}, {"value", v.repr()}}); break;  // empty containers
    }
    values.push_back(e);
  }

  void visit(const std::string& path, const Value& v, int depth) {
    if (depth > 256) throw modelzoo::FormatError("value tree nested more than 256 levels deep at " + path);
    auto child = [&](const std::string& k) { return path.empty() ? k : path + "/" + k; };
    if (const void* id = v.identity(); id && v.size() > 0) {
      auto [it, first] = seen.emplace(id, path);
      if (!first) {
        values.push_back({{"name", path},
                          {"kind", "shared"},
                          {"value", "same " + std::string(v.kind_name()) + " as " +
                                        (it->second.empty() ? std::string("the top level") : it->second)}});
        return;
      }
    }
    if (v.is_tensor()) {
      const at::Tensor& t = v.as_tensor();
      json shape = json::array();
      for (auto d : t.sizes()) shape.push_back(d);
      const uint64_t numel = static_cast<uint64_t>(t.numel());
      const uint64_t bytes = numel * static_cast<uint64_t>(t.element_size());
      tensors.push_back({{"name", path}, {"dtype", dtype_name(t.scalar_type())}, {"shape", shape},
                         {"numel", numel}, {"bytes", bytes}});
      parameters += numel;
      tensor_bytes += bytes;
    } else if (v.is_dict() && v.size() > 0) {
      for (const auto& [k, x] : v.entries()) visit(child(key_text(k)), x, depth + 1);
    } else if (v.is_sequence() && v.size() > 0) {
      for (std::size_t i = 0; i < v.items().size(); ++i) visit(child(std::to_string(i)), v.items()[i], depth + 1);
    } else {
      leaf(path, v);
    }
  }
};

std::string shape_text(const json& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i].get<int64_t>());
  return s + "]";
}

int run_inspect(Context& ctx, const InspectOptions& opt) {
  const fs::path file = opt.file;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw mz::CacheError("inspect: not a regular file: " + file.string());
  const uint64_t size = fs::file_size(file, ec);
  const auto format = modelzoo::io::detect_format(file);
  if (format == modelzoo::io::Format::Unknown) {
    throw mz::FormatError(file.string() + ": not a weight file: expected a torch.save zip archive, a legacy "
                          "torch.save file or safetensors, found none of these");
  }
  modelzoo::io::ReadOptions ro;
  ro.mmap = true;
  const Value root = modelzoo::io::read(file, ro);
  Walk w;
  w.visit("", root, 0);

  const std::string digest = mz::cache::sha256_file(file);
  json registered = json::array();
  for (const auto& t : all_targets(ctx.registry, false)) {
    if (t.weights->sha256.matches(digest) && (!t.weights->size || *t.weights->size == size)) {
      registered.push_back(t.label());
    }
  }
  const json totals = {{"tensors", w.tensors.size()},
                       {"parameters", w.parameters},
                       {"tensor_bytes", w.tensor_bytes},
                       {"values", w.values.size()}};
  ctx.emit({{"command", "inspect"},
            {"ok", true},
            {"file", fs::absolute(file).string()},
            {"format", modelzoo::io::format_name(format)},
            {"size", size},
            {"sha256", digest},
            {"registered_as", registered},
            {"tensors", w.tensors},
            {"values", opt.no_values ? json::array() : w.values},
            {"totals", totals}});
  if (ctx.json_mode) return kOk;  // --quiet does not hide what was asked for

  std::string reg;
  for (const auto& r : registered) reg += (reg.empty() ? "" : ", ") + r.get<std::string>();
  std::printf("file:       %s\nformat:     %s\nsize:       %s (%llu bytes)\nsha256:     %s\nregistered: %s\n\n",
              file.string().c_str(), modelzoo::io::format_name(format), human_size(size).c_str(),
              static_cast<unsigned long long>(size), digest.c_str(), reg.empty() ? "no" : reg.c_str());
  std::printf("%-56s %-9s %-22s %12s\n", "TENSOR", "DTYPE", "SHAPE", "BYTES");
  for (const auto& t : w.tensors) {
    std::printf("%-56s %-9s %-22s %12llu\n", t["name"].get<std::string>().c_str(),
                t["dtype"].get<std::string>().c_str(), shape_text(t["shape"]).c_str(),
                static_cast<unsigned long long>(t["bytes"].get<uint64_t>()));
  }
  if (!opt.no_values && !w.values.empty()) {
    std::printf("\n%-56s %-9s %s\n", "VALUE", "KIND", "CONTENT");
    for (const auto& v : w.values) {
      std::string content = v["value"].is_string() ? v["value"].get<std::string>() : v["value"].dump();
      if (content.size() > 80) content = content.substr(0, 77) + "...";
      std::printf("%-56s %-9s %s\n", v["name"].get<std::string>().c_str(), v["kind"].get<std::string>().c_str(),
                  content.c_str());
    }
  }
  std::printf("\n%zu tensors, %llu parameters (elements of all tensors, buffers included), %s of tensor data, "
              "%zu other values\n",
              w.tensors.size(), static_cast<unsigned long long>(w.parameters), human_size(w.tensor_bytes).c_str(),
              w.values.size());
  return kOk;
}

}  // namespace

Command add_inspect(CLI::App& root) {
  auto opt = std::make_shared<InspectOptions>();
  auto* app = define_inspect(root, *opt);
  return {app, [opt](Context& ctx) { return run_inspect(ctx, *opt); }};
}

}  // namespace cache_tool
