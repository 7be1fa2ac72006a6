#include "modelzoo/io/unpickler.h"

#include <ATen/ops/empty.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

#include "io/dtypes.h"
#include "io/pickle_detail.h"
#include "io/value_internals.h"
#include "modelzoo/error.h"

namespace modelzoo::io {

namespace {

// Longest LONG4 accepted (bytes); Python ints this large never hold weights.
constexpr std::size_t kMaxLongBytes = 4096;
// Deepest nesting of allowlisted calls inside one another (_rebuild_from_type_v2
// calls the function it is given); torch.save never nests more than two.
constexpr int kMaxCallDepth = 8;

std::string hex_byte(uint8_t b) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
    if (n == 4 || i + n >= s.size() + (n == 0 ? 1 : 0) || i + n > s.size() - 1) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Little-endian two's complement bytes -> Value (Int, or BigInt as decimal).
Value decode_long(std::string_view bytes) {
  std::size_t n = bytes.size();
  if (n == 0) return Value(0);
  bool negative = (static_cast<unsigned char>(bytes[n - 1]) & 0x80) != 0;
  if (n <= 8) {
    uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    if (negative && n < 8) v |= ~uint64_t{0} << (8 * n);
    return Value(static_cast<long long>(static_cast<int64_t>(v)));
  }
  // Magnitude in little-endian base 256.
  std::vector<uint8_t> mag(bytes.begin(), bytes.end());
  if (negative) {
    // Two's complement negation: invert and add one.
    unsigned carry = 1;
    for (auto& b : mag) {
      unsigned x = static_cast<uint8_t>(~b) + carry;
      b = static_cast<uint8_t>(x);
      carry = x >> 8;
    }
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  std::string digits;
  while (!mag.empty()) {
    unsigned rem = 0;
    for (std::size_t i = mag.size(); i-- > 0;) {
      unsigned cur = (rem << 8) | mag[i];
      mag[i] = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
    while (!mag.empty() && mag.back() == 0) mag.pop_back();
  }
  if (digits.empty()) digits = "0";
  if (negative) digits += '-';
  return Value::big_int(std::string(digits.rbegin(), digits.rend()));
}

std::optional<std::string> canonical_global(std::string_view module, std::string_view name) {
  std::string mod(module);
  if (mod == "__builtin__") mod = "builtins";
  std::string full = mod + "." + std::string(name);
  static const char* const kAllowed[] = {
      "collections.OrderedDict",
      "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state",
      "torch._tensor._rebuild_from_type_v2",
      "torch.Tensor",
      "torch.nn.parameter.Parameter",
      "torch.Size",
      "torch.device",
      "builtins.set",
      "builtins.frozenset",
      "builtins.bytearray",
      "builtins.complex",
      "_codecs.encode",
  };
  for (const char* a : kAllowed) {
    if (full == a) return full;
  }
  if (detail::storage_class_dtype(full) || detail::dtype_global(full)) return full;
  return std::nullopt;
}

class Unpickler {
 public:
  Unpickler(std::string_view data, const UnpickleOptions& options) : data_(data), opt_(options) {}

  UnpickleResult run();
  // Frees every container this run made (cycles included) after a failure.
  void release() {
    stack_.clear();
    memo_.clear();
    containers_.break_all();
  }

 private:
  std::string_view data_;
  const UnpickleOptions& opt_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  ValueInternals::Log containers_;  // every container made here, to refuse and free cycles
  int call_depth_ = 0;

  std::string where() const {
    const char* name = opcode_name(op_);
    return opt_.origin + ": malformed pickle at offset " + std::to_string(op_pos_) + " (" +
           (name ? name : hex_byte(op_)) + "): ";
  }
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(where() + what); }
  [[noreturn]] void truncated(const std::string& what) const { throw detail::PickleTruncated(where() + what); }

  std::string_view take(std::size_t n) {
    if (n > data_.size() - pos_) {
      truncated("truncated: needs " + std::to_string(n) + " more bytes but only " + std::to_string(data_.size() - pos_) +
           " remain");
    }
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t le(std::size_t n) {
    std::string_view b = take(n);
    uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    return v;
  }
  std::string_view line() {
    std::size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) truncated("truncated: no end of line");
    std::string_view out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  std::size_t length(uint64_t n) {
    if (n > data_.size() - pos_) {
      truncated("length " + std::to_string(n) + " exceeds the " + std::to_string(data_.size() - pos_) +
           " bytes left in the pickle");
    }
    return static_cast<std::size_t>(n);
  }

  void push(Value v) {
    containers_.add_if_new(v);
    stack_.push_back(std::move(v));
  }
  Value pop() {
    std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  const Value& memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) {
      fail("memo index " + std::to_string(idx) + " is not defined (memo holds " + std::to_string(memo_.size()) +
           " entries)");
    }
    return it->second;
  }
  void memo_put(uint64_t idx) { memo_[idx] = top(); }

  Value text_string(std::string_view raw) {
    if (valid_utf8(raw)) return Value(std::string(raw));
    return Value::bytes(std::string(raw));
  }

  Value resolve_global(std::string_view module, std::string_view name) {
    auto full = canonical_global(module, name);
    if (!full) {
      throw UnsafePickleError(opt_.origin + ": refusing global '" + std::string(module) + "." + std::string(name) +
                              "' at offset " + std::to_string(op_pos_) +
                              ": it is not on the allowlist of weight-file types (a pickled Python class, "
                              "such as a whole nn.Module, cannot be read safely); nothing was executed");
    }
    return Value::global(*full);
  }

  Value call(const Value& fn, const Value& args);
  Value rebuild_tensor(const Value& storage, const Value& offset, const Value& size, const Value& stride);
  void build(Value& inst, const Value& state);
  Value text_int(std::string_view text);
  Value decode_escaped_string(std::string_view quoted);
  Value decode_raw_unicode(std::string_view raw);
  Value persistent(const Value& pid) {
    if (!opt_.persistent_load) fail("persistent id " + pid.repr() + " but no storage is available here");
    return opt_.persistent_load(pid);
  }
};

std::vector<int64_t> int_list(const Value& v, const char* what, const std::string& origin) {
  if (!v.is_tuple() && !v.is_list()) {
    throw FormatError(origin + ": tensor " + what + " must be a tuple of ints, found " + v.kind_name() + " " +
                      v.repr());
  }
  std::vector<int64_t> out;
  out.reserve(v.items().size());
  for (const auto& item : v.items()) {
    if (!item.is_int() && !item.is_bool()) {
      throw FormatError(origin + ": tensor " + what + " must hold ints, found " + item.kind_name());
    }
    int64_t x = item.as_int();
    if (x < 0) throw FormatError(origin + ": tensor " + what + " holds a negative value " + std::to_string(x));
    out.push_back(x);
  }
  return out;
}

Value Unpickler::rebuild_tensor(const Value& storage, const Value& offset_v, const Value& size_v,
                                const Value& stride_v) {
  if (!storage.is_tensor()) {
    fail("tensor rebuild expects a storage as first argument, found " + std::string(storage.kind_name()));
  }
  const at::Tensor& st = storage.as_tensor();
  if (!offset_v.is_int()) fail("tensor storage offset must be an int, found " + offset_v.repr());
  int64_t offset = offset_v.as_int();
  if (offset < 0) fail("negative tensor storage offset " + std::to_string(offset));
  std::vector<int64_t> sizes = int_list(size_v, "size", opt_.origin);
  std::vector<int64_t> strides = int_list(stride_v, "stride", opt_.origin);
  if (sizes.size() != strides.size()) {
    fail("tensor has " + std::to_string(sizes.size()) + " sizes but " + std::to_string(strides.size()) + " strides");
  }
  // The storage argument is a 1-D window [base, base + numel) of a storage.
  const uint64_t base = static_cast<uint64_t>(st.storage_offset());
  const uint64_t storage_elems = base + static_cast<uint64_t>(st.numel());
  // Elements the tensor reaches: offset + sum((size-1)*stride) + 1, overflow-checked.
  bool empty = false;
  for (int64_t s : sizes) empty = empty || s == 0;
  if (!empty) {
    unsigned __int128 extent = static_cast<unsigned __int128>(base) + static_cast<uint64_t>(offset) + 1;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      extent += static_cast<unsigned __int128>(sizes[i] - 1) * static_cast<uint64_t>(strides[i]);
      if (extent > (static_cast<unsigned __int128>(1) << 100)) break;
    }
    if (extent > storage_elems) {
      fail("tensor of size " + size_v.repr() + ", stride " + stride_v.repr() + " at offset " +
           std::to_string(offset) + " reaches past its storage of " + std::to_string(st.numel()) + " elements");
    }
  }
  // The product of the non-zero sizes must fit int64 even when another size
  // is 0 (an empty tensor), or strides computed from the sizes overflow.
  unsigned __int128 numel = 1;
  for (int64_t s : sizes) {
    if (s == 0) continue;
    numel *= static_cast<uint64_t>(s);
    if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("tensor of size " + size_v.repr() + " has more than 2^63 elements");
    }
  }
  at::Tensor t = at::empty({0}, st.options());
  try {
    t.set_(st.storage(), static_cast<int64_t>(base) + offset, sizes, strides);
  } catch (const c10::Error& e) {
    fail(std::string("cannot place tensor of size ") + size_v.repr() + " on its storage: " + e.what_without_backtrace());
  }
  return Value(t);
}

Value Unpickler::call(const Value& fn, const Value& args_v) {
  struct Depth {
    int& d;
    explicit Depth(int& x) : d(++x) {}
    ~Depth() { --d; }
  } depth(call_depth_);
  if (call_depth_ > kMaxCallDepth) {
    fail("calls nested more than " + std::to_string(kMaxCallDepth) + " deep (" +
         (fn.is_global() ? fn.global_name() : std::string(fn.kind_name())) + " inside itself)");
  }
  if (!fn.is_global()) fail("REDUCE/NEWOBJ target must be an allowlisted global, found " + fn.repr());
  if (!args_v.is_tuple()) fail("arguments of " + fn.global_name() + " must be a tuple, found " + args_v.kind_name());
  const std::string& name = fn.global_name();
  const auto& args = args_v.items();
  auto need = [&](std::size_t lo, std::size_t hi) {
    if (args.size() < lo || args.size() > hi) {
      fail(name + " takes " + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi)) + " arguments, got " +
           std::to_string(args.size()));
    }
  };
  if (name == "collections.OrderedDict") {
    need(0, 1);
    Value d = Value::ordered_dict();
    if (args.size() == 1) {
      const Value& src = args[0];
      if (src.is_dict()) {
        for (const auto& e : src.entries()) d.set(e.first, e.second);
      } else if (src.is_sequence()) {
        for (const auto& pair : src.items()) {
          if (!pair.is_sequence() || pair.items().size() != 2) fail("OrderedDict item is not a (key, value) pair");
          d.set(pair.items()[0], pair.items()[1]);
        }
      } else {
        fail("OrderedDict argument must be pairs or a dict, found " + std::string(src.kind_name()));
      }
    }
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2") {
    need(6, 7);
    return rebuild_tensor(args[0], args[1], args[2], args[3]);
  }
  if (name == "torch._utils._rebuild_tensor") {
    need(4, 4);
    return rebuild_tensor(args[0], args[1], args[2], args[3]);
  }
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    need(3, 4);
    if (!args[0].is_tensor()) fail(name + " expects a tensor, found " + args[0].kind_name());
    return args[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2") {
    need(3, 4);
    if (!args[1].is_global() ||
        (args[1].global_name() != "torch.Tensor" && args[1].global_name() != "torch.nn.parameter.Parameter")) {
      fail("_rebuild_from_type_v2 may only rebuild torch.Tensor or Parameter, found " + args[1].repr());
    }
    Value inner = call(args[0], args[2]);
    if (!inner.is_tensor()) fail("_rebuild_from_type_v2 did not produce a tensor");
    return inner;
  }
  if (name == "torch.nn.parameter.Parameter") {
    need(1, 2);
    if (!args[0].is_tensor()) fail("Parameter expects a tensor, found " + std::string(args[0].kind_name()));
    return args[0];
  }
  if (name == "torch.Size") {
    need(0, 1);
    if (args.empty()) return Value::tuple();
    if (!args[0].is_sequence()) fail("torch.Size expects a tuple, found " + std::string(args[0].kind_name()));
    for (const auto& x : args[0].items()) {
      if (!x.is_int()) fail("torch.Size holds a non-int " + x.repr());
    }
    return Value::tuple(args[0].items());
  }
  if (name == "torch.device") {
    need(1, 2);
    if (!args[0].is_str()) fail("torch.device expects a str, found " + std::string(args[0].kind_name()));
    std::string dev = args[0].as_str();
    if (args.size() == 2 && !args[1].is_none()) dev += ":" + args[1].int_text();
    return Value(dev);
  }
  if (name == "builtins.set" || name == "builtins.frozenset") {
    need(0, 1);
    Value s = Value::set();
    if (args.size() == 1) {
      if (args[0].is_sequence()) {
        for (const auto& x : args[0].items()) s.append(x);
      } else if (args[0].is_dict()) {
        for (const auto& e : args[0].entries()) s.append(e.first);
      } else {
        fail(name + " expects an iterable, found " + args[0].kind_name());
      }
    }
    return s;
  }
  if (name == "builtins.bytearray" || name == "_codecs.encode") {
    if (name == "builtins.bytearray") need(0, 3); else need(1, 2);
    if (args.empty()) return Value::bytes("");
    if (args[0].is_bytes()) return Value::bytes(args[0].as_bytes());
    if (args[0].is_list()) {
      std::string out;
      for (const auto& x : args[0].items()) {
        int64_t b = x.as_int();
        if (b < 0 || b > 255) fail("bytearray item out of range: " + std::to_string(b));
        out += static_cast<char>(b);
      }
      return Value::bytes(out);
    }
    if (!args[0].is_str()) fail(name + " expects a str, found " + std::string(args[0].kind_name()));
    std::string enc = args.size() >= 2 && args[1].is_str() ? args[1].as_str() : "utf-8";
    for (auto& ch : enc) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::string& text = args[0].as_str();
    if (enc == "utf-8" || enc == "utf8") return Value::bytes(text);
    if (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") fail("unsupported encoding '" + enc + "'");
    // UTF-8 text -> one byte per code point (each must be below 256).
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
      auto c = static_cast<unsigned char>(text[i]);
      uint32_t cp;
      if (c < 0x80) {
        cp = c;
        i += 1;
      } else if ((c >> 5) == 6 && i + 1 < text.size()) {
        cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
        i += 2;
      } else {
        fail("latin1 text holds a code point above 255");
      }
      out += static_cast<char>(cp);
    }
    return Value::bytes(out);
  }
  if (name == "builtins.complex") {
    need(0, 2);
    double re = args.size() > 0 ? args[0].as_float() : 0.0;
    double im = args.size() > 1 ? args[1].as_float() : 0.0;
    return Value::complex(re, im);
  }
  fail("global " + name + " cannot be called");
}

void Unpickler::build(Value& inst, const Value& state) {
  if (inst.is_dict()) {
    if (state.is_none()) return;
    if (state.is_dict()) {
      inst.update_attributes(state);
      return;
    }
    // (state, slotstate) as Python's default __reduce_ex__ writes it.
    if (state.is_tuple() && state.items().size() == 2) {
      for (const auto& part : state.items()) {
        if (part.is_dict()) inst.update_attributes(part);
        else if (!part.is_none()) fail("BUILD state of a dict must be a dict, found " + std::string(part.kind_name()));
      }
      return;
    }
    fail("BUILD state of a dict must be a dict, found " + std::string(state.kind_name()));
  }
  if (inst.is_tensor()) return;  // Parameter/Tensor attributes (requires_grad, hooks) are not kept
  fail("BUILD applies only to dicts and tensors, found " + std::string(inst.kind_name()));
}

Value Unpickler::text_int(std::string_view text) {
  std::string t(text);
  while (!t.empty() && (t.back() == 'L' || t.back() == ' ' || t.back() == '\r')) t.pop_back();
  if (t == "00") return Value(false);
  if (t == "01") return Value(true);
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  try {
    return Value::big_int(t);
  } catch (const FormatError&) {
    fail("bad integer text '" + std::string(text) + "'");
  }
}

Value Unpickler::decode_escaped_string(std::string_view q) {
  if (q.size() < 2 || (q.front() != '\'' && q.front() != '"') || q.back() != q.front()) {
    fail("STRING argument is not quoted");
  }
  q = q.substr(1, q.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    char c = q[i];
    if (c != '\\' || i + 1 >= q.size()) {
      out += c;
      continue;
    }
    char e = q[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'x': {
        if (i + 2 >= q.size()) fail("bad \\x escape");
        std::string hex(q.substr(i + 1, 2));
        char* end = nullptr;
        long v = std::strtol(hex.c_str(), &end, 16);
        if (hex.size() != 2 || end != hex.c_str() + 2) fail("bad \\x escape");
        out += static_cast<char>(v);
        i += 2;
        break;
      }
      default: out += '\\'; out += e; break;
    }
  }
  return text_string(out);
}

Value Unpickler::decode_raw_unicode(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    if (c == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'u' || raw[i + 1] == 'U')) {
      std::size_t n = raw[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > raw.size()) fail("bad \\u escape");
      std::string hex(raw.substr(i + 2, n));
      char* end = nullptr;
      unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
      if (end != hex.c_str() + n || cp > 0x10FFFF) fail("bad \\u escape");
      append_utf8(out, static_cast<uint32_t>(cp));
      i += 1 + n;
    } else {
      append_utf8(out, c);  // raw-unicode-escape: other bytes are latin-1
    }
  }
  return Value(out);
}

UnpickleResult Unpickler::run() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= data_.size()) {
      op_ = 0;
      throw detail::PickleTruncated(opt_.origin + ": pickle truncated at offset " + std::to_string(pos_) +
                                    ": no STOP opcode");
    }
    op_ = static_cast<uint8_t>(data_[pos_++]);
    switch (op_) {
      case 0x80: {  // PROTO
        uint64_t proto = le(1);
        if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95:  // FRAME: the whole pickle is in memory already
        le(8);
        break;
      case '.': {  // STOP
        Value v = pop();
        if (containers_.has_cycle()) {
          fail("a container holds itself (a recursive structure, as a list appended to itself); weight files "
               "have none");
        }
        return {std::move(v), pos_};
      }
      case '(': marks_.push_back(stack_.size()); break;
      case '0':  // POP
        if (!marks_.empty() && stack_.size() == marks_.back()) marks_.pop_back();
        else pop();
        break;
      case '1': pop_mark(); break;
      case '2': push(top()); break;
      // --- constants and numbers
      case 'N': push(Value()); break;
      case 0x88: push(Value(true)); break;
      case 0x89: push(Value(false)); break;
      case 'J': push(Value(static_cast<int>(static_cast<int32_t>(static_cast<uint32_t>(le(4)))))); break;
      case 'K': push(Value(static_cast<int>(le(1)))); break;
      case 'M': push(Value(static_cast<int>(le(2)))); break;
      case 0x8a: {  // LONG1
        std::size_t n = static_cast<std::size_t>(le(1));
        push(decode_long(take(n)));
        break;
      }
      case 0x8b: {  // LONG4
        uint64_t n = le(4);
        if (n > kMaxLongBytes) fail("integer of " + std::to_string(n) + " bytes is too large");
        push(decode_long(take(static_cast<std::size_t>(n))));
        break;
      }
      case 'I': push(text_int(line())); break;
      case 'L': push(text_int(line())); break;
      case 'F': {
        std::string t(line());
        char* end = nullptr;
        double d = std::strtod(t.c_str(), &end);
        if (t.empty() || end != t.c_str() + t.size()) fail("bad float text '" + t + "'");
        push(Value(d));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        std::string_view b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(b[i]);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        push(Value(d));
        break;
      }
      // --- strings and bytes
      case 'X': push(Value(std::string(take(length(le(4)))))); break;
      case 0x8c: push(Value(std::string(take(length(le(1)))))); break;
      case 0x8d: push(Value(std::string(take(length(le(8)))))); break;
      case 'T': {
        uint64_t n = le(4);
        if (n & 0x80000000u) fail("negative BINSTRING length");
        push(text_string(take(length(n))));
        break;
      }
      case 'U': push(text_string(take(length(le(1))))); break;
      case 'B': push(Value::bytes(std::string(take(length(le(4)))))); break;
      case 'C': push(Value::bytes(std::string(take(length(le(1)))))); break;
      case 0x8e: push(Value::bytes(std::string(take(length(le(8)))))); break;
      case 0x96: push(Value::bytes(std::string(take(length(le(8)))))); break;
      case 'S': push(decode_escaped_string(line())); break;
      case 'V': push(decode_raw_unicode(line())); break;
      case 0x97: fail("out-of-band buffers are not supported");
      case 0x98: top(); break;  // READONLY_BUFFER: no change for our values
      // --- containers
      case ')': push(Value::tuple()); break;
      case 't': push(Value::tuple(pop_mark())); break;
      case 0x85: {
        Value a = pop();
        push(Value::tuple({std::move(a)}));
        break;
      }
      case 0x86: {
        Value b = pop();
        Value a = pop();
        push(Value::tuple({std::move(a), std::move(b)}));
        break;
      }
      case 0x87: {
        Value c = pop();
        Value b = pop();
        Value a = pop();
        push(Value::tuple({std::move(a), std::move(b), std::move(c)}));
        break;
      }
      case ']': push(Value::list()); break;
      case 'l': push(Value::list(pop_mark())); break;
      case '}': push(Value::dict()); break;
      case 'd': {
        std::vector<Value> items = pop_mark();
        if (items.size() % 2) fail("odd number of items for a dict");
        Value d = Value::dict();
        for (std::size_t i = 0; i < items.size(); i += 2) d.set(items[i], items[i + 1]);
        push(std::move(d));
        break;
      }
      case 0x8f: push(Value::set()); break;
      case 0x91: push(Value::set(pop_mark())); break;
      case 'a': {
        Value v = pop();
        Value& target = top();
        if (!target.is_list()) fail("APPEND to a " + std::string(target.kind_name()));
        target.append(std::move(v));
        break;
      }
      case 'e': {
        std::vector<Value> items = pop_mark();
        Value& target = top();
        if (!target.is_list()) fail("APPENDS to a " + std::string(target.kind_name()));
        for (auto& v : items) target.append(std::move(v));
        break;
      }
      case 0x90: {
        std::vector<Value> items = pop_mark();
        Value& target = top();
        if (!target.is_set()) fail("ADDITEMS to a " + std::string(target.kind_name()));
        for (auto& v : items) target.append(std::move(v));
        break;
      }
      case 's': {
        Value v = pop();
        Value k = pop();
        Value& target = top();
        if (!target.is_dict()) fail("SETITEM on a " + std::string(target.kind_name()));
        if (!k.is_hashable()) fail("unhashable dict key " + k.repr());
        target.set(std::move(k), std::move(v));
        break;
      }
      case 'u': {
        std::vector<Value> items = pop_mark();
        Value& target = top();
        if (!target.is_dict()) fail("SETITEMS on a " + std::string(target.kind_name()));
        if (items.size() % 2) fail("odd number of items for SETITEMS");
        for (std::size_t i = 0; i < items.size(); i += 2) {
          if (!items[i].is_hashable()) fail("unhashable dict key " + items[i].repr());
          target.set(items[i], items[i + 1]);
        }
        break;
      }
      // --- memo
      case 'h': push(memo_get(le(1))); break;
      case 'j': push(memo_get(le(4))); break;
      case 'g': {
        std::string t(line());
        char* end = nullptr;
        unsigned long long idx = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || end != t.c_str() + t.size()) fail("bad memo index '" + t + "'");
        push(memo_get(idx));
        break;
      }
      case 'q': memo_put(le(1)); break;
      case 'r': memo_put(le(4)); break;
      case 'p': {
        std::string t(line());
        char* end = nullptr;
        unsigned long long idx = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || end != t.c_str() + t.size()) fail("bad memo index '" + t + "'");
        memo_put(idx);
        break;
      }
      case 0x94: memo_put(memo_.size()); break;
      // --- globals and calls
      case 'c': {
        std::string_view module = line();
        std::string_view name = line();
        push(resolve_global(module, name));
        break;
      }
      case 0x93: {
        Value name = pop();
        Value module = pop();
        if (!module.is_str() || !name.is_str()) fail("STACK_GLOBAL needs two str");
        push(resolve_global(module.as_str(), name.as_str()));
        break;
      }
      case 'i': {
        std::string_view module = line();
        std::string_view name = line();
        Value fn = resolve_global(module, name);
        push(call(fn, Value::tuple(pop_mark())));
        break;
      }
      case 'o': {
        std::vector<Value> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        Value fn = items[0];
        items.erase(items.begin());
        push(call(fn, Value::tuple(std::move(items))));
        break;
      }
      case 'R': {
        Value args = pop();
        Value fn = pop();
        push(call(fn, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        Value args = pop();
        Value cls = pop();
        push(call(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        Value kwargs = pop();
        Value args = pop();
        Value cls = pop();
        if (!kwargs.is_dict() || kwargs.size() != 0) fail("keyword arguments are not supported");
        push(call(cls, args));
        break;
      }
      case 'b': {
        Value state = pop();
        build(top(), state);
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84: fail("extension registry codes are not supported");
      // --- persistent ids
      case 'Q': {
        Value pid = pop();
        push(persistent(pid));
        break;
      }
      case 'P': push(persistent(text_string(line()))); break;
      default:
        fail("unknown opcode " + hex_byte(op_));
    }
  }
}

}  // namespace

UnpickleResult unpickle(std::string_view data, const UnpickleOptions& options) {
  Unpickler u(data, options);
  try {
    return u.run();
  } catch (...) {
    u.release();
    throw;
  }
}

bool is_allowed_global(std::string_view module, std::string_view name) {
  return canonical_global(module, name).has_value();
}

}  // namespace modelzoo::io
