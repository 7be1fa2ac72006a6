// torch.save-compatible zip writer: a protocol-2 pickle using only what
// `torch.load(weights_only=True)` accepts for state dicts (OrderedDict,
// _rebuild_tensor_v2, storage classes via BINPERSID, ints, str, bool, None,
// lists, tuples, dicts), plus BINFLOAT for floats and a few builtins for
// bytes/sets/complex numbers that a full `torch.load` reads.

#include <c10/core/Storage.h>

#include <cstring>
#include <unordered_map>

#include "io/dtypes.h"
#include "io/readers.h"
#include "io/zip.h"
#include "modelzoo/error.h"

namespace modelzoo::io::detail {

namespace {

constexpr int kMaxDepth = 1000;
constexpr std::size_t kBatch = 1000;  // items per SETITEMS/APPENDS, as Python

class Pickler {
 public:
  explicit Pickler(std::string what) : what_(std::move(what)) {}

  std::string run(const Value& v) {
    out_ += '\x80';
    out_ += '\x02';
    value(v, 0);
    out_ += '.';
    return std::move(out_);
  }

  struct Stored {
    c10::Storage storage;
    c10::ScalarType dtype;
  };
  const std::vector<Stored>& storages() const { return storages_; }

 private:
  std::string what_;
  std::string out_;
  std::vector<Stored> storages_;
  std::unordered_map<const void*, std::size_t> storage_ids_;

  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  void global(const std::string& module, const std::string& name) {
    out_ += 'c';
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void str(const std::string& s) {
    out_ += 'X';
    le(s.size(), 4);
    out_ += s;
  }
  void integer(int64_t i) {
    if (i >= 0 && i < 256) {
      out_ += 'K';
      le(static_cast<uint64_t>(i), 1);
    } else if (i >= 0 && i < 65536) {
      out_ += 'M';
      le(static_cast<uint64_t>(i), 2);
    } else if (i >= INT32_MIN && i <= INT32_MAX) {
      out_ += 'J';
      le(static_cast<uint32_t>(static_cast<int32_t>(i)), 4);
    } else {
      out_ += '\x8a';
      out_ += '\x08';
      le(static_cast<uint64_t>(i), 8);
    }
  }
  void big_integer(const std::string& decimal) {
    // Decimal -> little-endian magnitude bytes -> two's complement.
    bool negative = decimal[0] == '-';
    std::vector<uint8_t> mag;
    for (std::size_t i = negative ? 1 : 0; i < decimal.size(); ++i) {
      unsigned carry = static_cast<unsigned>(decimal[i] - '0');
      for (auto& b : mag) {
        unsigned x = b * 10u + carry;
        b = static_cast<uint8_t>(x);
        carry = x >> 8;
      }
      while (carry) {
        mag.push_back(static_cast<uint8_t>(carry));
        carry >>= 8;
      }
    }
    mag.push_back(0);  // room for the sign bit
    if (negative) {
      unsigned carry = 1;
      for (auto& b : mag) {
        unsigned x = static_cast<uint8_t>(~b) + carry;
        b = static_cast<uint8_t>(x);
        carry = x >> 8;
      }
    }
    // Drop redundant sign bytes.
    while (mag.size() > 1) {
      uint8_t last = mag.back(), prev = mag[mag.size() - 2];
      if ((last == 0 && !(prev & 0x80)) || (last == 0xFF && (prev & 0x80))) mag.pop_back();
      else break;
    }
    if (mag.size() < 256) {
      out_ += '\x8a';
      le(mag.size(), 1);
    } else {
      out_ += '\x8b';
      le(mag.size(), 4);
    }
    out_.append(mag.begin(), mag.end());
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    out_ += ')';
    out_ += 'R';
  }

  void tensor(const at::Tensor& input) {
    if (!input.defined()) throw FormatError(what_ + ": cannot write an undefined tensor");
    at::Tensor t = input.device().is_cpu() ? input : input.cpu();
    const c10::ScalarType dtype = t.scalar_type();
    const char* cls = supported_dtype(dtype) ? storage_class_name(dtype) : nullptr;
    if (!cls) throw FormatError(what_ + ": cannot write tensors of dtype " + c10::toString(dtype));
    const c10::Storage& storage = t.storage();
    const void* impl = storage.unsafeGetStorageImpl();
    auto [it, inserted] = storage_ids_.emplace(impl, storages_.size());
    if (inserted) {
      storages_.push_back({storage, dtype});
    } else if (storages_[it->second].dtype != dtype) {
      throw FormatError(what_ + ": two tensors view the same storage as " +
                        c10::toString(storages_[it->second].dtype) + " and " + c10::toString(dtype) +
                        "; torch.save cannot represent that either");
    }
    const std::size_t itemsize = c10::elementSize(dtype);
    global("torch._utils", "_rebuild_tensor_v2");
    out_ += '(';
    // Persistent id ('storage', torch.XStorage, key, 'cpu', numel).
    out_ += '(';
    str("storage");
    global("torch", cls);
    str(std::to_string(it->second));
    str("cpu");
    integer(static_cast<int64_t>(storage.nbytes() / itemsize));
    out_ += 't';
    out_ += 'Q';
    integer(t.storage_offset());
    out_ += '(';
    for (int64_t s : t.sizes()) integer(s);
    out_ += 't';
    out_ += '(';
    for (int64_t s : t.strides()) integer(s);
    out_ += 't';
    out_ += '\x89';  // requires_grad = False
    empty_ordered_dict();  // backward hooks
    out_ += 't';
    out_ += 'R';
  }

  void value(const Value& v, int depth) {
    if (depth > kMaxDepth) throw FormatError(what_ + ": value tree nested deeper than " + std::to_string(kMaxDepth));
    switch (v.kind()) {
      case Value::Kind::None: out_ += 'N'; return;
      case Value::Kind::Bool: out_ += v.as_bool() ? '\x88' : '\x89'; return;
      case Value::Kind::Int: integer(v.as_int()); return;
      case Value::Kind::BigInt: big_integer(v.int_text()); return;
      case Value::Kind::Float: {
        double d = v.as_float();
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        out_ += 'G';
        for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xFF);
        return;
      }
      case Value::Kind::Complex: {
        global("builtins", "complex");
        value(Value(v.as_complex().real()), depth + 1);
        value(Value(v.as_complex().imag()), depth + 1);
        out_ += '\x86';
        out_ += 'R';
        return;
      }
      case Value::Kind::Str: str(v.as_str()); return;
      case Value::Kind::Bytes: {
        // As Python 3 pickles bytes at protocol 2: _codecs.encode(latin-1 text, 'latin1').
        std::string text;
        for (unsigned char c : v.as_bytes()) {
          if (c < 0x80) {
            text += static_cast<char>(c);
          } else {
            text += static_cast<char>(0xC0 | (c >> 6));
            text += static_cast<char>(0x80 | (c & 0x3F));
          }
        }
        global("_codecs", "encode");
        str(text);
        str("latin1");
        out_ += '\x86';
        out_ += 'R';
        return;
      }
      case Value::Kind::Global: {
        const std::string& name = v.global_name();
        std::size_t dot = name.rfind('.');
        if (dot == std::string::npos) throw FormatError(what_ + ": global name without a module: " + name);
        global(name.substr(0, dot), name.substr(dot + 1));
        return;
      }
      case Value::Kind::Tuple: {
        const auto& items = v.items();
        if (items.empty()) {
          out_ += ')';
          return;
        }
        out_ += '(';
        for (const auto& item : items) value(item, depth + 1);
        out_ += 't';
        return;
      }
      case Value::Kind::List:
      case Value::Kind::Set: {
        if (v.is_set()) {
          global("builtins", "set");
          out_ += '(';
        }
        out_ += ']';
        const auto& items = v.items();
        for (std::size_t i = 0; i < items.size(); i += kBatch) {
          out_ += '(';
          for (std::size_t j = i; j < items.size() && j < i + kBatch; ++j) value(items[j], depth + 1);
          out_ += 'e';
        }
        if (v.is_set()) {
          out_ += 't';
          out_ += 'R';
        }
        return;
      }
      case Value::Kind::Dict: {
        if (v.is_ordered_dict()) {
          empty_ordered_dict();
        } else {
          out_ += '}';
        }
        const auto& entries = v.entries();
        for (std::size_t i = 0; i < entries.size(); i += kBatch) {
          out_ += '(';
          for (std::size_t j = i; j < entries.size() && j < i + kBatch; ++j) {
            value(entries[j].first, depth + 1);
            value(entries[j].second, depth + 1);
          }
          out_ += 'u';
        }
        if (v.is_ordered_dict() && v.attributes() && v.attributes()->size() > 0) {
          value(*v.attributes(), depth + 1);
          out_ += 'b';
        }
        return;
      }
      case Value::Kind::Tensor: tensor(v.as_tensor()); return;
    }
  }
};

}  // namespace

void write_zip(std::FILE* out, const Value& value, const std::string& archive_name, const std::string& what) {
  Pickler pickler(what);
  const std::string pickle = pickler.run(value);
  ZipWriter zip(out, what);
  const std::string prefix = archive_name + "/";
  zip.add(prefix + "data.pkl", pickle.data(), pickle.size());
  const std::string order = "little";
  zip.add(prefix + "byteorder", order.data(), order.size());
  const auto& storages = pickler.storages();
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const c10::Storage& s = storages[i].storage;
    zip.add(prefix + "data/" + std::to_string(i), s.data(), s.nbytes());
  }
  const std::string version = "3\n";
  zip.add(prefix + "version", version.data(), version.size());
  zip.finish();
}

}  // namespace modelzoo::io::detail
