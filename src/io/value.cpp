#include "modelzoo/io/value.h"

#include <unordered_set>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <unordered_map>

#include "io/value_internals.h"
#include "modelzoo/error.h"

namespace modelzoo::io {

struct Value::Text {
  std::string s;
  mutable std::atomic<uint64_t> hash{0};  // 0: not computed yet
  explicit Text(std::string text) : s(std::move(text)) {}
};

struct Value::Seq {
  std::vector<Value> items;
  std::unordered_multimap<uint64_t, std::size_t> index;  // Set only: key hash -> position
  mutable uint64_t hash = 0;       // Tuple only, once hash_state is 1
  mutable int8_t hash_state = 0;   // Tuple only: 0 unknown, 1 hashable, -1 unhashable
  ~Seq();
};

struct Value::Map {
  std::vector<Value::Entry> entries;
  std::unordered_multimap<uint64_t, std::size_t> index;  // key hash -> position
  bool ordered = false;
  std::shared_ptr<Value> attributes;  // Dict, from BUILD
  ~Map();
};

// Hashing and equality of dict keys / set items, with Python's rules: 1, 1.0
// and True are one key; a tuple is hashable when its items are.
struct KeyOps {
  static constexpr int kMaxDepth = 64;
  static constexpr uint64_t kCompareBudget = uint64_t{1} << 20;

  static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
  }
  static uint64_t combine(uint64_t seed, uint64_t v) { return mix(seed ^ (v + 0x9e3779b97f4a7c15ull + (seed << 6))); }
  static uint64_t seed() {
    static const uint64_t s = mix(static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}());
    return s;
  }
  static uint64_t text_hash(char tag, std::string_view text) {
    return combine(seed() ^ static_cast<uint64_t>(tag), std::hash<std::string_view>{}(text));
  }
  static uint64_t text_hash(char tag, const Value::Text& t) {
    uint64_t h = t.hash.load(std::memory_order_relaxed);
    if (h == 0) {
      h = text_hash(tag, std::string_view(t.s));
      if (h == 0) h = 1;
      t.hash.store(h, std::memory_order_relaxed);
    }
    return h;
  }

  // Numbers as Python compares them: (true, int) for ints, bools and
  // integral floats in int64 range, else (false, bit pattern).
  static std::pair<bool, uint64_t> number(const Value& v) {
    if (v.kind_ == Value::Kind::Bool) return {true, v.scalar_.b ? 1u : 0u};
    if (v.kind_ == Value::Kind::Int) return {true, static_cast<uint64_t>(v.scalar_.i)};
    const double d = v.scalar_.f;
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      return {true, static_cast<uint64_t>(static_cast<int64_t>(d))};
    }
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    return {false, bits};
  }
  static bool is_number(const Value& v) {
    return v.kind_ == Value::Kind::Bool || v.kind_ == Value::Kind::Int || v.kind_ == Value::Kind::Float;
  }

  static bool hash(const Value& v, uint64_t& out, int depth) {
    if (depth > kMaxDepth) return false;
    switch (v.kind_) {
      case Value::Kind::None: out = combine(seed(), 'N'); return true;
      case Value::Kind::Bool:
      case Value::Kind::Int:
      case Value::Kind::Float: {
        auto [integral, bits] = number(v);
        out = combine(seed() ^ (integral ? 'i' : 'f'), bits);
        return true;
      }
      case Value::Kind::Complex: {
        uint64_t re, im;
        std::memcpy(&re, &v.scalar_.c[0], 8);
        std::memcpy(&im, &v.scalar_.c[1], 8);
        out = combine(combine(seed() ^ 'c', re), im);
        return true;
      }
      case Value::Kind::BigInt: out = text_hash('I', *v.text_); return true;
      case Value::Kind::Str: out = text_hash('s', *v.text_); return true;
      case Value::Kind::Bytes: out = text_hash('b', *v.text_); return true;
      case Value::Kind::Global: out = text_hash('g', *v.text_); return true;
      case Value::Kind::Tuple: {
        const Value::Seq& q = *v.seq_;
        if (q.hash_state == 0) {
          uint64_t h = combine(seed() ^ 't', q.items.size());
          bool ok = true;
          for (const auto& item : q.items) {
            uint64_t x;
            if (!hash(item, x, depth + 1)) {
              ok = false;
              break;
            }
            h = combine(h, x);
          }
          // An unhashable result found below the depth limit may only be due
          // to where this tuple sits; cache only what does not depend on it.
          if (ok) {
            q.hash = h;
            q.hash_state = 1;
          } else if (depth == 0) {
            q.hash_state = -1;
          } else {
            return false;
          }
        }
        out = q.hash;
        return q.hash_state == 1;
      }
      default: return false;
    }
  }

  static bool equal(const Value& a, const Value& b, uint64_t& budget, int depth) {
    if (budget-- == 0) {
      throw FormatError("comparing two dict keys or set items takes more than 2^20 steps (a key built to be costly)");
    }
    if (is_number(a) && is_number(b)) return number(a) == number(b);
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
      case Value::Kind::None: return true;
      case Value::Kind::Complex:
        return std::memcmp(a.scalar_.c, b.scalar_.c, sizeof a.scalar_.c) == 0;
      case Value::Kind::BigInt:
      case Value::Kind::Str:
      case Value::Kind::Bytes:
      case Value::Kind::Global: return a.text_ == b.text_ || a.text_->s == b.text_->s;
      case Value::Kind::Tuple: {
        if (a.seq_ == b.seq_) return true;
        if (depth > kMaxDepth || a.seq_->items.size() != b.seq_->items.size()) return false;
        if (a.seq_->hash_state == 1 && b.seq_->hash_state == 1 && a.seq_->hash != b.seq_->hash) return false;
        for (std::size_t i = 0; i < a.seq_->items.size(); ++i) {
          if (!equal(a.seq_->items[i], b.seq_->items[i], budget, depth + 1)) return false;
        }
        return true;
      }
      default: return false;
    }
  }
  static bool equal(const Value& a, const Value& b) {
    uint64_t budget = kCompareBudget;
    return equal(a, b, budget, 0);
  }

  // Position of `key` (hash `h`) in a hash index over `at(pos)`, or npos.
  template <typename At>
  static std::size_t lookup(const std::unordered_multimap<uint64_t, std::size_t>& index, uint64_t h, const Value& key,
                            At at) {
    auto [lo, hi] = index.equal_range(h);
    for (auto it = lo; it != hi; ++it) {
      if (equal(at(it->second), key)) return it->second;
    }
    return std::string::npos;
  }
};

namespace {

uint64_t require_hash(const Value& v) {
  uint64_t h;
  if (!KeyOps::hash(v, h, 0)) {
    throw FormatError(std::string("unhashable ") + v.kind_name() + " used as a dict key or set item: " +
                      v.repr());
  }
  return h;
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
    text_ = std::make_shared<Text>(std::to_string(i));
  }
}
Value::Value(double d) noexcept : kind_(Kind::Float) { scalar_.f = d; }
Value::Value(const char* s) : Value(std::string(s)) {}
Value::Value(std::string s) : kind_(Kind::Str), text_(std::make_shared<Text>(std::move(s))) {}
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
  out.text_ = std::make_shared<Text>(decimal.substr(0, sign) + decimal.substr(first));
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
  out.text_ = std::make_shared<Text>(std::move(data));
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
  out.text_ = std::make_shared<Text>(std::move(qualified_name));
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
    throw FormatError("expected an int that fits in 64 bits but found " + text_->s);
  }
  expect(Kind::Int, "an int");
  return scalar_.i;
}

double Value::as_float() const {
  switch (kind_) {
    case Kind::Float: return scalar_.f;
    case Kind::Int: return static_cast<double>(scalar_.i);
    case Kind::Bool: return scalar_.b ? 1.0 : 0.0;
    case Kind::BigInt: return std::strtod(text_->s.c_str(), nullptr);
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
    case Kind::BigInt: return text_->s;
    default: expect(Kind::Int, "an int"); return {};
  }
}

const std::string& Value::as_str() const {
  expect(Kind::Str, "a str");
  return text_->s;
}

const std::string& Value::as_bytes() const {
  expect(Kind::Bytes, "bytes");
  return text_->s;
}

const at::Tensor& Value::as_tensor() const {
  expect(Kind::Tensor, "a Tensor");
  return tensor_;
}

const std::string& Value::global_name() const {
  expect(Kind::Global, "a global");
  return text_->s;
}

const std::vector<Value>& Value::items() const {
  if (!is_sequence()) expect(Kind::List, "a list, tuple or set");
  return seq_->items;
}

void Value::append(Value v) {
  if (kind_ == Kind::Set) {
    const uint64_t h = require_hash(v);
    const auto& items = seq_->items;
    if (KeyOps::lookup(seq_->index, h, v, [&](std::size_t i) -> const Value& { return items[i]; }) ==
        std::string::npos) {
      seq_->index.emplace(h, items.size());
      seq_->items.push_back(std::move(v));
    }
    return;
  }
  expect(Kind::List, "a list or set to append to");
  seq_->items.push_back(std::move(v));
}

const std::vector<Value::Entry>& Value::entries() const {
  expect(Kind::Dict, "a dict");
  return map_->entries;
}

namespace {

// Position of `key` in a dict's entries, or npos.
std::size_t position(const std::vector<Value::Entry>& entries,
                     const std::unordered_multimap<uint64_t, std::size_t>& index, uint64_t h, const Value& key) {
  return KeyOps::lookup(index, h, key, [&](std::size_t i) -> const Value& { return entries[i].first; });
}

}  // namespace

void Value::set(Value key, Value v) {
  expect(Kind::Dict, "a dict");
  const uint64_t h = require_hash(key);
  const std::size_t pos = position(map_->entries, map_->index, h, key);
  if (pos == std::string::npos) {
    map_->index.emplace(h, map_->entries.size());
    map_->entries.emplace_back(std::move(key), std::move(v));
  } else {
    map_->entries[pos].second = std::move(v);
  }
}

bool Value::erase(const Value& key) {
  expect(Kind::Dict, "a dict");
  uint64_t h;
  if (!KeyOps::hash(key, h, 0)) return false;
  const std::size_t pos = position(map_->entries, map_->index, h, key);
  if (pos == std::string::npos) return false;
  map_->entries.erase(map_->entries.begin() + static_cast<std::ptrdiff_t>(pos));
  for (auto it = map_->index.begin(); it != map_->index.end();) {
    if (it->second == pos) {
      it = map_->index.erase(it);
      continue;
    }
    if (it->second > pos) --it->second;
    ++it;
  }
  return true;
}

const Value* Value::find(const Value& key) const {
  if (kind_ != Kind::Dict) return nullptr;
  uint64_t h;
  if (!KeyOps::hash(key, h, 0)) return nullptr;
  const std::size_t pos = position(map_->entries, map_->index, h, key);
  return pos == std::string::npos ? nullptr : &map_->entries[pos].second;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Dict) return nullptr;
  auto [lo, hi] = map_->index.equal_range(KeyOps::text_hash('s', key));
  for (auto it = lo; it != hi; ++it) {
    const Value& k = map_->entries[it->second].first;
    if (k.kind_ == Kind::Str && k.text_->s == key) return &map_->entries[it->second].second;
  }
  return nullptr;
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
  try {
    return KeyOps::equal(*this, other);
  } catch (...) {
    return false;
  }
}

const void* Value::identity() const noexcept {
  if (seq_) return seq_.get();
  if (map_) return map_.get();
  return nullptr;
}

bool Value::is_hashable() const noexcept {
  uint64_t h;
  return KeyOps::hash(*this, h, 0);
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
    case Kind::BigInt: return cut(text_->s);
    case Kind::Float: os << scalar_.f; return os.str();
    case Kind::Complex: os << "(" << scalar_.c[0] << "+" << scalar_.c[1] << "j)"; return os.str();
    case Kind::Str: return "'" + cut(text_->s) + "'";
    case Kind::Bytes: return "b'" + cut(text_->s) + "'";
    case Kind::Global: return text_->s;
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

void ValueInternals::Log::add_if_new(const Value& v) {
  if (v.seq_ && v.seq_.use_count() == 1) seqs_.push_back(v.seq_);
  if (v.map_ && v.map_.use_count() == 1) maps_.push_back(v.map_);
}

bool ValueInternals::Log::has_cycle() const {
  // Iterative depth-first search with three colours over container identities.
  std::unordered_set<const void*> done, open;
  struct Frame {
    const Value* node;
    std::size_t next = 0;
  };
  // The i-th child of a container (items; keys and values; then attributes), or null.
  auto child = [](const Value& v, std::size_t i) -> const Value* {
    if (v.seq_) return i < v.seq_->items.size() ? &v.seq_->items[i] : nullptr;
    const auto& entries = v.map_->entries;
    if (i < 2 * entries.size()) return i % 2 ? &entries[i / 2].second : &entries[i / 2].first;
    return i == 2 * entries.size() && v.map_->attributes ? v.map_->attributes.get() : nullptr;
  };
  std::vector<Frame> stack;
  auto search = [&](const Value& root) {
    stack.push_back({&root});
    open.insert(root.identity());
    while (!stack.empty()) {
      Frame& f = stack.back();
      const Value* c = child(*f.node, f.next++);
      if (!c) {
        open.erase(f.node->identity());
        done.insert(f.node->identity());
        stack.pop_back();
        continue;
      }
      const void* id = c->identity();
      if (!id || done.count(id)) continue;
      if (open.count(id)) return true;
      open.insert(id);
      stack.push_back({c});
    }
    return false;
  };
  Value holder;
  for (const auto& w : seqs_) {
    if (auto p = w.lock()) {
      holder.kind_ = Value::Kind::List;
      holder.seq_ = p;
      holder.map_.reset();
      if (!done.count(p.get()) && search(holder)) return true;
    }
  }
  for (const auto& w : maps_) {
    if (auto p = w.lock()) {
      holder.kind_ = Value::Kind::Dict;
      holder.map_ = p;
      holder.seq_.reset();
      if (!done.count(p.get()) && search(holder)) return true;
    }
  }
  return false;
}

void ValueInternals::Log::break_all() {
  // Move the contents out first, so nothing is destroyed while we iterate.
  std::vector<Value> garbage;
  for (const auto& w : seqs_) {
    if (auto p = w.lock()) {
      for (auto& x : p->items) garbage.push_back(std::move(x));
      p->items.clear();
      p->index.clear();
    }
  }
  for (const auto& w : maps_) {
    if (auto p = w.lock()) {
      for (auto& e : p->entries) {
        garbage.push_back(std::move(e.first));
        garbage.push_back(std::move(e.second));
      }
      p->entries.clear();
      p->index.clear();
      if (p->attributes) {
        garbage.push_back(std::move(*p->attributes));
        p->attributes.reset();
      }
    }
  }
  seqs_.clear();
  maps_.clear();
  Value::list(std::move(garbage));  // destroyed here, iteratively (see ~Seq)
}

}  // namespace modelzoo::io
