// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"str": "str"}}, then the data; offsets are relative to the
// end of the header. A valid file's tensors tile the data exactly: sorted by
// offset, each begins where the previous ends, the last ends at the end of
// the file, and each holds shape-product x itemsize bytes.
//
// The header has a fixed schema, three levels deep at most (the object of
// tensors, a tensor's object, its shape / data_offsets arrays): anything
// nested deeper, and any key given twice in one object, is refused before a
// JSON value is built. Error messages quote header values in a bounded form.
//
// Unsigned types: U8 is torch.uint8. LibTorch 1.13 has no uint16/32/64, so
// U16 is widened to int32 and U32 to int64 (exact), and U64 to int64 when
// every value fits (else FormatError naming the tensor).

#include <ATen/ops/empty.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <vector>

#include "io/dtypes.h"
#include "io/readers.h"
#include "modelzoo/error.h"

namespace modelzoo::io::detail {

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;
constexpr int kMaxHeaderDepth = 3;

using Json = nlohmann::ordered_json;

// Refuses JSON text nested deeper than kMaxHeaderDepth (arrays and objects),
// scanning the bytes without recursion; strings and escapes are skipped.
void check_depth(const std::string& text, const std::string& origin) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxHeaderDepth) {
        throw FormatError(origin + ": safetensors header nests JSON more than " + std::to_string(kMaxHeaderDepth) +
                          " levels deep (at byte " + std::to_string(i) + " of the header); its schema needs " +
                          std::to_string(kMaxHeaderDepth));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// A header value for a message: at most a few items and 60 characters.
std::string brief(const Json& j) {
  std::string out;
  if (j.is_array()) {
    out = "[";
    for (std::size_t i = 0; i < j.size() && i < 4; ++i) out += (i ? ", " : "") + brief(j[i]);
    if (j.size() > 4) out += ", ... (" + std::to_string(j.size()) + " items)";
    out += "]";
  } else if (j.is_object()) {
    out = "{" + std::string(j.empty() ? "" : "...") + "}";
  } else {
    out = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return out.size() > 60 ? out.substr(0, 57) + "..." : out;
}

// Parses the header, refusing a key that appears twice in one object.
Json parse_header(const std::string& text, const std::string& origin) {
  check_depth(text, origin);
  std::vector<std::unordered_set<std::string>> keys;
  Json::parser_callback_t cb = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == Json::parse_event_t::key && !keys.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second) {
        throw FormatError(origin + ": safetensors header gives key '" + (k.size() > 60 ? k.substr(0, 57) + "..." : k) +
                          "' twice in one object (readers disagree on which one counts)");
      }
    }
    return true;
  };
  try {
    return Json::parse(text, cb);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(origin + ": safetensors header is not valid JSON: " + e.what());
  }
}

struct StDtype {
  const char* name;
  c10::ScalarType read_as;  // the raw element type
  std::size_t size;
};

constexpr StDtype kStDtypes[] = {
    {"F64", c10::ScalarType::Double, 8}, {"F32", c10::ScalarType::Float, 4},
    {"F16", c10::ScalarType::Half, 2},   {"BF16", c10::ScalarType::BFloat16, 2},
    {"I64", c10::ScalarType::Long, 8},   {"I32", c10::ScalarType::Int, 4},
    {"I16", c10::ScalarType::Short, 2},  {"I8", c10::ScalarType::Char, 1},
    {"U8", c10::ScalarType::Byte, 1},    {"BOOL", c10::ScalarType::Bool, 1},
    {"C64", c10::ScalarType::ComplexFloat, 8},
    // Unsigned types torch 1.13 lacks: read raw as the signed type of the same
    // width, then widened below.
    {"U16", c10::ScalarType::Short, 2},  {"U32", c10::ScalarType::Int, 4},
    {"U64", c10::ScalarType::Long, 8},
};

struct Item {
  std::string name;
  const StDtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

at::Tensor widen_unsigned(const at::Tensor& raw, const std::string& kind, const std::string& origin,
                          const std::string& name) {
  const int64_t n = raw.numel();
  if (kind == "U16") {
    at::Tensor out = at::empty({n}, at::TensorOptions().dtype(c10::ScalarType::Int));
    const auto* in = static_cast<const uint16_t*>(raw.data_ptr());
    auto* o = out.data_ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i) o[i] = in[i];
    return out;
  }
  if (kind == "U32") {
    at::Tensor out = at::empty({n}, at::TensorOptions().dtype(c10::ScalarType::Long));
    const auto* in = static_cast<const uint32_t*>(raw.data_ptr());
    auto* o = out.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) o[i] = in[i];
    return out;
  }
  // U64: same bits as int64 when no value exceeds INT64_MAX.
  const auto* in = static_cast<const uint64_t*>(raw.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    if (in[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw FormatError(origin + ": tensor '" + name + "' (U64) holds " + std::to_string(in[i]) + " at index " +
                        std::to_string(i) + ", which does not fit int64 (LibTorch has no uint64)");
    }
  }
  return raw;
}

}  // namespace

Value read_safetensors(const std::shared_ptr<const Source>& src, bool alias) {
  const Source& s = *src;
  const std::string& origin = s.origin();
  if (s.size() < 8) throw FormatError(origin + ": safetensors file truncated: " + std::to_string(s.size()) + " bytes");
  uint64_t n = 0;
  s.read(0, &n, 8);
  if (n > kMaxHeader || n > s.size() - 8) {
    throw FormatError(origin + ": safetensors header length " + std::to_string(n) + " exceeds " +
                      (n > kMaxHeader ? "the 100 MB limit" : "the file size (" + std::to_string(s.size()) + " bytes)"));
  }
  std::string text = s.read_string(8, n);
  const Json header = parse_header(text, origin);
  if (!header.is_object()) throw FormatError(origin + ": safetensors header must be a JSON object");
  const uint64_t data_start = 8 + n;
  const uint64_t data_len = s.size() - data_start;
  Value out = Value::ordered_dict();
  std::vector<Item> items;
  std::vector<std::string> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    order.push_back(name);
    if (name == "__metadata__") {
      if (!v.is_object()) throw FormatError(origin + ": __metadata__ must be an object of strings");
      Value meta = Value::dict();
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          throw FormatError(origin + ": __metadata__ value of '" + m.key() + "' must be a string, found " +
                            m.value().type_name());
        }
        meta.set(Value(m.key()), Value(m.value().get<std::string>()));
      }
      out.set(Value(name), meta);
      continue;
    }
    auto field = [&](const char* f) -> const Json& {
      if (!v.is_object() || !v.contains(f)) throw FormatError(origin + ": tensor '" + name + "' has no '" + f + "' field");
      return v.at(f);
    };
    const auto& dt = field("dtype");
    if (!dt.is_string()) throw FormatError(origin + ": tensor '" + name + "' dtype must be a string");
    const std::string dts = dt.get<std::string>();
    const StDtype* found = nullptr;
    for (const auto& d : kStDtypes) {
      if (dts == d.name) found = &d;
    }
    if (!found) {
      throw FormatError(origin + ": tensor '" + name + "' has dtype " + brief(dt) +
                        ", which this LibTorch cannot hold (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 U16 U32 U64 "
                        "BOOL C64)");
    }
    Item item{name, found, {}, 0, 0};
    const auto& shape = field("shape");
    if (!shape.is_array()) throw FormatError(origin + ": tensor '" + name + "' shape must be an array");
    // Overflow-checked: the product of the non-zero dimensions must fit
    // int64 even when another dimension is 0 (an empty tensor).
    unsigned __int128 nonzero = 1;
    bool empty = false;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) throw FormatError(origin + ": tensor '" + name + "' shape holds " + brief(d));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw FormatError(origin + ": tensor '" + name + "' has dimension " + std::to_string(dim) + ", too large");
      }
      item.shape.push_back(static_cast<int64_t>(dim));
      if (dim == 0) {
        empty = true;
        continue;
      }
      nonzero *= dim;
      if (nonzero > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw FormatError(origin + ": tensor '" + name + "' has shape " + brief(shape) +
                          " whose dimensions multiply past 2^63 (overflow)");
      }
    }
    const unsigned __int128 numel = empty ? 0 : nonzero;
    const auto& offs = field("data_offsets");
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      throw FormatError(origin + ": tensor '" + name + "' data_offsets must be [begin, end], found " + brief(offs));
    }
    item.begin = offs[0].get<uint64_t>();
    item.end = offs[1].get<uint64_t>();
    if (item.begin > item.end || item.end > data_len) {
      throw FormatError(origin + ": tensor '" + name + "' data_offsets [" + std::to_string(item.begin) + ", " +
                        std::to_string(item.end) + "] lie outside the " + std::to_string(data_len) + " data bytes");
    }
    const unsigned __int128 need = numel * found->size;
    if (need != item.end - item.begin) {
      throw FormatError(origin + ": tensor '" + name + "' of shape " + brief(shape) + " and dtype " + dts + " needs " +
                        (need >= (static_cast<unsigned __int128>(1) << 64)
                             ? std::string("more than 2^64")
                             : std::to_string(static_cast<uint64_t>(need))) +
                        " bytes but its data_offsets span " + std::to_string(item.end - item.begin));
    }
    items.push_back(std::move(item));
  }
  // The tensors must tile the data section: no gaps, no overlaps, nothing after.
  std::vector<const Item*> sorted;
  for (const auto& i : items) sorted.push_back(&i);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Item* a, const Item* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expect = 0;
  for (const Item* i : sorted) {
    if (i->begin < expect) {
      throw FormatError(origin + ": tensor '" + i->name + "' data_offsets [" + std::to_string(i->begin) + ", " +
                        std::to_string(i->end) + "] overlap the previous tensor, which ends at " +
                        std::to_string(expect));
    }
    if (i->begin > expect) {
      throw FormatError(origin + ": tensor '" + i->name + "' starts at data offset " + std::to_string(i->begin) +
                        " but the previous tensor ends at " + std::to_string(expect) + " (gap in the data)");
    }
    expect = i->end;
  }
  if (expect != data_len) {
    throw FormatError(origin + ": safetensors data section has " + std::to_string(data_len) +
                      " bytes but its tensors cover " + std::to_string(expect));
  }
  for (const Item& i : items) {
    at::Tensor raw = load_storage(src, data_start + i.begin, i.end - i.begin, i.dtype->read_as, false, alias);
    const std::string kind = i.dtype->name;
    if (kind == "U16" || kind == "U32" || kind == "U64") {
      if (reinterpret_cast<uintptr_t>(raw.data_ptr()) % i.dtype->size != 0) raw = raw.clone();
      raw = widen_unsigned(raw, kind, origin, i.name);
    }
    out.set(Value(i.name), Value(raw.view(i.shape)));
  }
  // Keep the header's order, with __metadata__ where it appeared.
  if (out.find("__metadata__")) {
    Value ordered = Value::ordered_dict();
    for (const auto& name : order) ordered.set(Value(name), out.at(name));
    return ordered;
  }
  return out;
}

void write_safetensors(std::FILE* f, const Value& value, const std::string& what) {
  if (!value.is_dict()) throw FormatError(what + ": safetensors holds a dict of tensors, got " + value.kind_name());
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::vector<at::Tensor> tensors;
  uint64_t offset = 0;
  for (const auto& [k, v] : value.entries()) {
    if (!k.is_str()) throw FormatError(what + ": safetensors keys must be str, found " + k.repr());
    const std::string& name = k.as_str();
    if (name == "__metadata__") {
      if (!v.is_dict()) throw FormatError(what + ": __metadata__ must be a dict of str");
      nlohmann::ordered_json meta = nlohmann::ordered_json::object();
      for (const auto& [mk, mv] : v.entries()) {
        if (!mk.is_str() || !mv.is_str()) {
          throw FormatError(what + ": __metadata__ must map str to str, found " + mk.repr() + ": " + mv.repr());
        }
        meta[mk.as_str()] = mv.as_str();
      }
      header["__metadata__"] = meta;
      continue;
    }
    if (!v.is_tensor()) {
      throw FormatError(what + ": safetensors can hold only tensors, but '" + name + "' is " + v.kind_name());
    }
    if (!v.as_tensor().defined()) throw FormatError(what + ": tensor '" + name + "' is undefined");
    at::Tensor t = v.as_tensor().contiguous().cpu();
    const char* dt = nullptr;
    for (const auto& d : kStDtypes) {
      if (d.read_as == t.scalar_type() && std::string(d.name) != "U16" && std::string(d.name) != "U32" &&
          std::string(d.name) != "U64") {
        dt = d.name;
      }
    }
    if (!dt) throw FormatError(what + ": tensor '" + name + "' has dtype " + c10::toString(t.scalar_type()) +
                               ", which safetensors cannot hold");
    const uint64_t nbytes = t.numel() * t.element_size();
    nlohmann::ordered_json entry;
    entry["dtype"] = dt;
    entry["shape"] = t.sizes().vec();
    entry["data_offsets"] = {offset, offset + nbytes};
    header[name] = entry;
    offset += nbytes;
    tensors.push_back(t);
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';  // keep the data 8-byte aligned
  const uint64_t n = text.size();
  auto put = [&](const void* p, std::size_t len) {
    if (len && std::fwrite(p, 1, len, f) != len) throw FormatError(what + ": write failed: " + std::strerror(errno));
  };
  put(&n, 8);
  put(text.data(), text.size());
  for (const auto& t : tensors) put(t.data_ptr(), t.numel() * t.element_size());
}

}  // namespace modelzoo::io::detail
