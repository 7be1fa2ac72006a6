#include "modelzoo/io/value.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "modelzoo/error.h"

namespace modelzoo::io {

struct Value::Seq {
  std::vector<Value> items;
  std::unordered_map<std::string, std::size_t> index;  // Set only
  ~Seq();
};

struct Value::Map {
  std::vector<Value::Entry> entries;
  std::unordered_map<std::string, std::size_t> index;  // hash key -> position
  bool ordered = false;
  std::shared_ptr<Value> attributes;  // Dict, from BUILD
  ~Map();
};

namespace {

constexpr int kMaxKeyDepth = 64;

// A canonical text for a hashable value: equal Python keys give equal text
// (1, 1.0 and True are the same key, as in Python).
bool hash_key(const Value& v, std::string& out, int depth) {
  if (depth > kMaxKeyDepth) return false;
  switch (v.kind()) {
    case Value::Kind::None:
      out += 'N';
      return true;
    case Value::Kind::Bool:
    case Value::Kind::Int:
    case Value::Kind::BigInt:
      out += 'i';
      out += v.int_text();
      out += ';';
      return true;
    case Value::Kind::Float: {
      double d = v.as_float();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
        out += 'i';
        out += std::to_string(static_cast<int64_t>(d));
        out += ';';
      } else {
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        out += 'f';
        out += std::to_string(bits);
        out += ';';
      }
      return true;
    }
    case Value::Kind::Complex: {
      auto c = v.as_complex();
      out += 'c';
      out += std::to_string(c.real());
      out += ',';
      out += std::to_string(c.imag());
      out += ';';
      return true;
    }
    case Value::Kind::Str:
      out += 's';
      out += std::to_string(v.as_str().size());
      out += ':';
      out += v.as_str();
      return true;
    case Value::Kind::Bytes:
      out += 'b';
      out += std::to_string(v.as_bytes().size());
      out += ':';
      out += v.as_bytes();
      return true;
    case Value::Kind::Global:
      out += 'g';
      out += std::to_string(v.global_name().size());
      out += ':';
      out += v.global_name();
      return true;
    case Value::Kind::Tuple:
      out += "t(";
      for (const auto& item : v.items()) {
        if (!hash_key(item, out, depth + 1)) return false;
      }
      out += ')';
      return true;
    default:
      return false;
  }
}

std::string require_key(const Value& v) {
  std::string key;
  if (!hash_key(v, key, 0)) {
    throw FormatError(std::string("unhashable ") + v.kind_name() + " used as a dict key or set item: " +
                      v.repr());
  }
  return key;
}

std::string str_key(std::string_view s) {
  std::string key = "s";
  key += std::to_string(s.size());
  key += ':';
  key += s;
  return key;
}

bool is_decimal(const std::string& s) {
  std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

}  // namespace

// Destroy deep trees without deep recursion: children whose containers we
// own alone are emptied into a worklist first.
Value::Seq::~Seq() {
  std::vector<Value> work = std::move(items);
  while (!work.empty()) {
    Value v = std::move(work.back());
    work.pop_back();
    if (v.seq_ && v.seq_.use_count() == 1) {
      for (auto& item : v.seq_->items) work.push_back(std::move(item));
      v.seq_->items.clear();
    }
    if (v.map_ && v.map_.use_count() == 1) {
      for (auto& e : v.map_->entries) {
        work.push_back(std::move(e.first));
        work.push_back(std::move(e.second));
      }
      v.map_->entries.clear();
      if (v.map_->attributes) {
        work.push_back(std::move(*v.map_->attributes));
        v.map_->attributes.reset();
      }
    }
  }
}

Value::Map::~Map() {
  Seq holder;
  for (auto& e : entries) {
    holder.items.push_back(std::move(e.first));
    holder.items.push_back(std::move(e.second));
  }
  if (attributes) holder.items.push_back(std::move(*attributes));
}

Value::Value() noexcept = default;
Value::Value(std::nullptr_t) noexcept {}
Value::Value(bool b) noexcept : kind_(Kind::Bool) { scalar_.b = b; }
Value::Value(int i) noexcept : kind_(Kind::Int) { scalar_.i = i; }
Value::Value(long i) noexcept : kind_(Kind::Int) { scalar_.i = i; }
Value::Value(long long i) noexcept : kind_(Kind::Int) { scalar_.i = i; }
Value::Value(unsigned int i) noexcept : kind_(Kind::Int) { scalar_.i = i; }
Value::Value(unsigned long i) : Value(static_cast<unsigned long long>(i)) {}
Value::Value(unsigned long long i) {
  if (i <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
    kind_ = Kind::Int;
    scalar_.i = static_cast<int64_t>(i);
  } else {
    kind_ = Kind::BigInt;
    text_ = std::make_shared<std::string>(std::to_string(i));
  }
}
Value::Value(double d) noexcept : kind_(Kind::Float) { scalar_.f = d; }
Value::Value(const char* s) : Value(std::string(s)) {}
Value::Value(std::string s) : kind_(Kind::Str), text_(std::make_shared<std::string>(std::move(s))) {}
Value::Value(at::Tensor t) : kind_(Kind::Tensor), tensor_(std::move(t)) {}

Value Value::big_int(const std::string& decimal) {
  if (!is_decimal(decimal)) throw FormatError("expected decimal integer text, found '" + decimal + "'");
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(decimal.c_str(), &end, 10);
  if (errno == 0 && end == decimal.c_str() + decimal.size()) return Value(v);
  Value out;
  out.kind_ = Kind::BigInt;
  // Normalise: no leading zeros ("-0..." cannot overflow, so not here).
  std::size_t sign = decimal[0] == '-' ? 1 : 0;
  std::size_t first = decimal.find_first_not_of('0', sign);
  out.text_ = std::make_shared<std::string>(decimal.substr(0, sign) + decimal.substr(first));
  return out;
}

Value Value::complex(double re, double im) {
  Value out;
  out.kind_ = Kind::Complex;
  out.scalar_.c[0] = re;
  out.scalar_.c[1] = im;
  return out;
}

Value Value::bytes(std::string data) {
  Value out;
  out.kind_ = Kind::Bytes;
  out.text_ = std::make_shared<std::string>(std::move(data));
  return out;
}

Value Value::list(std::vector<Value> items) {
  Value out;
  out.kind_ = Kind::List;
  out.seq_ = std::make_shared<Seq>();
  out.seq_->items = std::move(items);
  return out;
}

Value Value::tuple(std::vector<Value> items) {
  Value out = list(std::move(items));
  out.kind_ = Kind::Tuple;
  return out;
}

Value Value::set(std::vector<Value> items) {
  Value out;
  out.kind_ = Kind::Set;
  out.seq_ = std::make_shared<Seq>();
  for (auto& item : items) out.append(std::move(item));
  return out;
}

Value Value::dict() {
  Value out;
  out.kind_ = Kind::Dict;
  out.map_ = std::make_shared<Map>();
  return out;
}

Value Value::ordered_dict() {
  Value out = dict();
  out.map_->ordered = true;
  return out;
}

Value Value::global(std::string qualified_name) {
  Value out;
  out.kind_ = Kind::Global;
  out.text_ = std::make_shared<std::string>(std::move(qualified_name));
  return out;
}

const char* Value::kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int (big)";
    case Kind::Float: return "float";
    case Kind::Complex: return "complex";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Set: return "set";
    case Kind::Dict: return "dict";
    case Kind::Tensor: return "Tensor";
    case Kind::Global: return "global";
  }
  return "?";
}

const char* Value::kind_name() const noexcept {
  if (kind_ == Kind::Dict && map_->ordered) return "OrderedDict";
  return kind_name(kind_);
}

bool Value::is_ordered_dict() const noexcept { return kind_ == Kind::Dict && map_->ordered; }

void Value::expect(Kind k, const char* what) const {
  if (kind_ != k) {
    throw FormatError(std::string("expected ") + what + " but found " + kind_name() + " " + repr());
  }
}

bool Value::as_bool() const {
  expect(Kind::Bool, "a bool");
  return scalar_.b;
}

int64_t Value::as_int() const {
  if (kind_ == Kind::Bool) return scalar_.b ? 1 : 0;
  if (kind_ == Kind::BigInt) {
    throw FormatError("expected an int that fits in 64 bits but found " + *text_);
  }
  expect(Kind::Int, "an int");
  return scalar_.i;
}

double Value::as_float() const {
  switch (kind_) {
    case Kind::Float: return scalar_.f;
    case Kind::Int: return static_cast<double>(scalar_.i);
    case Kind::Bool: return scalar_.b ? 1.0 : 0.0;
    case Kind::BigInt: return std::strtod(text_->c_str(), nullptr);
    default: expect(Kind::Float, "a number"); return 0;
  }
}

std::complex<double> Value::as_complex() const {
  if (kind_ == Kind::Complex) return {scalar_.c[0], scalar_.c[1]};
  return {as_float(), 0.0};
}

std::string Value::int_text() const {
  switch (kind_) {
    case Kind::Bool: return scalar_.b ? "1" : "0";
    case Kind::Int: return std::to_string(scalar_.i);
    case Kind::BigInt: return *text_;
    default: expect(Kind::Int, "an int"); return {};
  }
}

const std::string& Value::as_str() const {
  expect(Kind::Str, "a str");
  return *text_;
}

const std::string& Value::as_bytes() const {
  expect(Kind::Bytes, "bytes");
  return *text_;
}

const at::Tensor& Value::as_tensor() const {
  expect(Kind::Tensor, "a Tensor");
  return tensor_;
}

const std::string& Value::global_name() const {
  expect(Kind::Global, "a global");
  return *text_;
}

const std::vector<Value>& Value::items() const {
  if (!is_sequence()) expect(Kind::List, "a list, tuple or set");
  return seq_->items;
}

void Value::append(Value v) {
  if (kind_ == Kind::Set) {
    std::string key = require_key(v);
    if (seq_->index.emplace(std::move(key), seq_->items.size()).second) seq_->items.push_back(std::move(v));
    return;
  }
  expect(Kind::List, "a list or set to append to");
  seq_->items.push_back(std::move(v));
}

const std::vector<Value::Entry>& Value::entries() const {
  expect(Kind::Dict, "a dict");
  return map_->entries;
}

void Value::set(Value key, Value v) {
  expect(Kind::Dict, "a dict");
  std::string hk = require_key(key);
  auto [it, inserted] = map_->index.emplace(std::move(hk), map_->entries.size());
  if (inserted) {
    map_->entries.emplace_back(std::move(key), std::move(v));
  } else {
    map_->entries[it->second].second = std::move(v);
  }
}

bool Value::erase(const Value& key) {
  expect(Kind::Dict, "a dict");
  std::string hk;
  if (!hash_key(key, hk, 0)) return false;
  auto it = map_->index.find(hk);
  if (it == map_->index.end()) return false;
  std::size_t pos = it->second;
  map_->entries.erase(map_->entries.begin() + static_cast<std::ptrdiff_t>(pos));
  map_->index.erase(it);
  for (auto& kv : map_->index) {
    if (kv.second > pos) --kv.second;
  }
  return true;
}

const Value* Value::find(const Value& key) const {
  if (kind_ != Kind::Dict) return nullptr;
  std::string hk;
  if (!hash_key(key, hk, 0)) return nullptr;
  auto it = map_->index.find(hk);
  return it == map_->index.end() ? nullptr : &map_->entries[it->second].second;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Dict) return nullptr;
  auto it = map_->index.find(str_key(key));
  return it == map_->index.end() ? nullptr : &map_->entries[it->second].second;
}

const Value& Value::at(const Value& key) const {
  expect(Kind::Dict, "a dict");
  const Value* v = find(key);
  if (!v) throw FormatError("key " + key.repr() + " not found in a dict of " + std::to_string(size()) + " entries");
  return *v;
}

const Value& Value::at(std::string_view key) const {
  expect(Kind::Dict, "a dict");
  const Value* v = find(key);
  if (!v) {
    throw FormatError("key '" + std::string(key) + "' not found in a dict of " + std::to_string(size()) +
                      " entries");
  }
  return *v;
}

std::size_t Value::size() const {
  if (kind_ == Kind::Dict) return map_->entries.size();
  return items().size();
}

const Value* Value::attributes() const {
  if (kind_ != Kind::Dict) return nullptr;
  return map_->attributes.get();
}

void Value::update_attributes(const Value& attrs) {
  expect(Kind::Dict, "a dict to set attributes on");
  attrs.expect(Kind::Dict, "a dict of attributes");
  if (!map_->attributes) map_->attributes = std::make_shared<Value>(Value::dict());
  for (const auto& e : attrs.entries()) map_->attributes->set(e.first, e.second);
}

bool Value::same_object(const Value& other) const noexcept {
  if (kind_ != other.kind_) return false;
  if (seq_) return seq_ == other.seq_;
  if (map_) return map_ == other.map_;
  if (kind_ == Kind::Tensor) return tensor_.is_same(other.tensor_);
  std::string a, b;
  return hash_key(*this, a, 0) && hash_key(other, b, 0) && a == b;
}

bool Value::is_hashable() const noexcept {
  std::string key;
  try {
    return hash_key(*this, key, 0);
  } catch (...) {
    return false;
  }
}

std::string Value::repr() const { return repr_limited(*this, 0); }

std::string Value::repr_limited(const Value& v, int depth) {
  if (depth > 4 && (v.is_sequence() || v.is_dict())) return "...";
  return v.repr_here(depth);
}

std::string Value::repr_here(int depth) const {
  auto cut = [](const std::string& s) { return s.size() > 60 ? s.substr(0, 57) + "..." : s; };
  std::ostringstream os;
  switch (kind_) {
    case Kind::None: return "None";
    case Kind::Bool: return scalar_.b ? "True" : "False";
    case Kind::Int: return std::to_string(scalar_.i);
    case Kind::BigInt: return cut(*text_);
    case Kind::Float: os << scalar_.f; return os.str();
    case Kind::Complex: os << "(" << scalar_.c[0] << "+" << scalar_.c[1] << "j)"; return os.str();
    case Kind::Str: return "'" + cut(*text_) + "'";
    case Kind::Bytes: return "b'" + cut(*text_) + "'";
    case Kind::Global: return *text_;
    case Kind::List:
    case Kind::Tuple:
    case Kind::Set: {
      const char* open = kind_ == Kind::List ? "[" : kind_ == Kind::Tuple ? "(" : "{";
      const char* close = kind_ == Kind::List ? "]" : kind_ == Kind::Tuple ? ")" : "}";
      os << open;
      std::size_t n = seq_->items.size();
      for (std::size_t i = 0; i < n && i < 4; ++i) os << (i ? ", " : "") << repr_limited(seq_->items[i], depth + 1);
      if (n > 4) os << ", ... (" << n << " items)";
      if (kind_ == Kind::Tuple && n == 1) os << ",";
      os << close;
      return cut(os.str());
    }
    case Kind::Dict: {
      os << (map_->ordered ? "OrderedDict{" : "{");
      std::size_t n = map_->entries.size();
      for (std::size_t i = 0; i < n && i < 3; ++i) os << (i ? ", " : "") << repr_limited(map_->entries[i].first, depth + 1) << ": ...";
      if (n > 3) os << ", ... (" << n << " entries)";
      os << "}";
      return cut(os.str());
    }
    case Kind::Tensor: {
      if (!tensor_.defined()) return "Tensor(undefined)";
      os << "Tensor(" << tensor_.scalar_type() << ", " << tensor_.sizes() << ")";
      return os.str();
    }
  }
  return "?";
}

}  // namespace modelzoo::io
