#pragma once
/// \file
/// A tree of values as Python's torch.save pickles them: None, bool, int
/// (64-bit, or arbitrary size kept exactly as decimal text), float, complex,
/// str, bytes, list, tuple, set, dict (insertion-ordered, any hashable key,
/// with a flag for OrderedDict), tensor, and references to allowlisted
/// globals (a dtype such as `torch.float16`).
///
/// Containers have Python's reference semantics: copying a Value copies a
/// handle, so two copies of a list or dict see each other's changes (the
/// unpickler's memo relies on that). Scalars, strings and tensors are values.
///
/// Accessors come in pairs: `find(key)` returns a pointer or null, `at(key)`
/// throws FormatError naming the key. `as_*()` throw FormatError saying which
/// kind was expected and which was found.
///
/// Dict keys and set items are found by a hash and an equality test, as in
/// Python: hashes of str, bytes and big ints are computed once per object and
/// cached, a tuple's hash once per tuple, so inserting the same large key many
/// times costs no rehashing, and comparing keys that share objects is cheap.
/// A key nested more than 64 tuples deep is unhashable; comparing two
/// distinct keys that need more than 2^20 element comparisons (a key built to
/// be costly) throws FormatError.

#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::io {

/// One node of a value tree (see the file comment).
class Value {
 public:
  /// What a Value holds.
  enum class Kind {
    None,
    Bool,
    Int,      ///< fits in int64
    BigInt,   ///< does not fit in int64; exact decimal text
    Float,
    Complex,
    Str,      ///< UTF-8 text
    Bytes,    ///< raw bytes (also bytearray)
    List,
    Tuple,
    Set,      ///< set or frozenset, in file order
    Dict,     ///< dict or OrderedDict, insertion-ordered
    Tensor,
    Global,   ///< an allowlisted global such as "torch.float16"
  };

  /// One key/value pair of a dict.
  using Entry = std::pair<Value, Value>;

  /// None.
  Value() noexcept;
  /// None.
  Value(std::nullptr_t) noexcept;  // NOLINT(google-explicit-constructor)
  /// A bool.
  Value(bool b) noexcept;  // NOLINT
  /// An int.
  Value(int i) noexcept;  // NOLINT
  /// An int.
  Value(long i) noexcept;  // NOLINT
  /// An int.
  Value(long long i) noexcept;  // NOLINT
  /// An int (BigInt when above int64's range).
  Value(unsigned int i) noexcept;  // NOLINT
  /// An int (BigInt when above int64's range).
  Value(unsigned long i);  // NOLINT
  /// An int (BigInt when above int64's range).
  Value(unsigned long long i);  // NOLINT
  /// A float.
  Value(double d) noexcept;  // NOLINT
  /// A str (UTF-8).
  Value(const char* s);  // NOLINT
  /// A str (UTF-8).
  Value(std::string s);  // NOLINT
  /// A tensor.
  Value(at::Tensor t);  // NOLINT

  /// An int given as decimal text (optional '-' then digits). Stored as Int
  /// when it fits in int64, else as BigInt. Throws FormatError on bad text.
  static Value big_int(const std::string& decimal);
  /// A complex number.
  static Value complex(double re, double im);
  /// A bytes object holding `data` as is.
  static Value bytes(std::string data);
  /// A list.
  static Value list(std::vector<Value> items = {});
  /// A tuple.
  static Value tuple(std::vector<Value> items = {});
  /// A set (items must be hashable; duplicates are dropped).
  static Value set(std::vector<Value> items = {});
  /// An empty dict.
  static Value dict();
  /// An empty collections.OrderedDict.
  static Value ordered_dict();
  /// A reference to a global, by its dotted name ("torch.float16").
  static Value global(std::string qualified_name);

  /// What this holds.
  Kind kind() const noexcept { return kind_; }
  /// Python-like name of the kind: "None", "int", "dict", "Tensor", ...
  const char* kind_name() const noexcept;
  /// Python-like name of a kind.
  static const char* kind_name(Kind k) noexcept;

  /// kind() == Kind::None.
  bool is_none() const noexcept { return kind_ == Kind::None; }
  /// kind() == Kind::Bool.
  bool is_bool() const noexcept { return kind_ == Kind::Bool; }
  /// Int or BigInt (not Bool).
  bool is_int() const noexcept { return kind_ == Kind::Int || kind_ == Kind::BigInt; }
  /// kind() == Kind::Float.
  bool is_float() const noexcept { return kind_ == Kind::Float; }
  /// kind() == Kind::Str.
  bool is_str() const noexcept { return kind_ == Kind::Str; }
  /// kind() == Kind::Bytes.
  bool is_bytes() const noexcept { return kind_ == Kind::Bytes; }
  /// kind() == Kind::List.
  bool is_list() const noexcept { return kind_ == Kind::List; }
  /// kind() == Kind::Tuple.
  bool is_tuple() const noexcept { return kind_ == Kind::Tuple; }
  /// kind() == Kind::Set.
  bool is_set() const noexcept { return kind_ == Kind::Set; }
  /// List, Tuple or Set.
  bool is_sequence() const noexcept { return is_list() || is_tuple() || is_set(); }
  /// kind() == Kind::Dict (plain or ordered).
  bool is_dict() const noexcept { return kind_ == Kind::Dict; }
  /// A dict that was a collections.OrderedDict.
  bool is_ordered_dict() const noexcept;
  /// kind() == Kind::Tensor.
  bool is_tensor() const noexcept { return kind_ == Kind::Tensor; }
  /// kind() == Kind::Global.
  bool is_global() const noexcept { return kind_ == Kind::Global; }

  /// The bool. Throws FormatError unless Bool.
  bool as_bool() const;
  /// The int (a Bool counts as 0/1). Throws FormatError unless Int or Bool
  /// (a BigInt does not fit and throws too).
  int64_t as_int() const;
  /// The number as double (Float, Int, BigInt or Bool). Throws otherwise.
  double as_float() const;
  /// The complex number (Complex, or any real number).
  std::complex<double> as_complex() const;
  /// Decimal text of an Int, BigInt or Bool. Throws otherwise.
  std::string int_text() const;
  /// The text of a Str. Throws FormatError unless Str.
  const std::string& as_str() const;
  /// The bytes of a Bytes. Throws FormatError unless Bytes.
  const std::string& as_bytes() const;
  /// The tensor. Throws FormatError unless Tensor.
  const at::Tensor& as_tensor() const;
  /// The dotted name of a Global. Throws FormatError unless Global.
  const std::string& global_name() const;

  /// Items of a List, Tuple or Set. Throws FormatError otherwise.
  const std::vector<Value>& items() const;
  /// Appends to a List or Set (a Set ignores a duplicate). Throws otherwise.
  void append(Value v);

  /// Entries of a Dict in insertion order. Throws FormatError otherwise.
  const std::vector<Entry>& entries() const;
  /// Inserts or replaces (a replaced key keeps its position). Throws
  /// FormatError unless this is a Dict and `key` is hashable.
  void set(Value key, Value v);
  /// Removes a key if present; returns whether it was. Throws unless Dict.
  bool erase(const Value& key);
  /// The value under `key`, or null when absent or not a Dict.
  const Value* find(const Value& key) const;
  /// The value under str key `key`, or null when absent or not a Dict.
  const Value* find(std::string_view key) const;
  /// The value under `key`. Throws FormatError naming the key if absent.
  const Value& at(const Value& key) const;
  /// The value under str key `key`. Throws FormatError naming the key if absent.
  const Value& at(std::string_view key) const;
  /// Overload for string literals (picks the str key).
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  /// Overload for string literals (picks the str key).
  const Value& at(const char* key) const { return at(std::string_view(key)); }
  /// Overload for std::string (picks the str key).
  const Value* find(const std::string& key) const { return find(std::string_view(key)); }
  /// Overload for std::string (picks the str key).
  const Value& at(const std::string& key) const { return at(std::string_view(key)); }

  /// Element count of a sequence or dict. Throws FormatError otherwise.
  std::size_t size() const;

  /// Attributes a pickle set on a dict with BUILD (an OrderedDict's
  /// `_metadata`), as a Dict; null when there are none.
  const Value* attributes() const;
  /// Merges a dict of attributes into a Dict (what BUILD does). Throws
  /// FormatError unless this is a Dict and `attrs` a Dict.
  void update_attributes(const Value& attrs);

  /// True when both are the same container object (or equal scalars).
  bool same_object(const Value& other) const noexcept;
  /// The shared container behind a List, Tuple, Set or Dict (equal for every
  /// copy of the handle, so it tells shared structure apart); null otherwise.
  const void* identity() const noexcept;
  /// Whether this can be a dict key / set member (None, bool, numbers, str,
  /// bytes, Global, and tuples of those).
  bool is_hashable() const noexcept;
  /// A short, Python-like rendering for error messages (containers and
  /// tensors are summarised, long text is cut).
  std::string repr() const;

  /// Storage of a List/Tuple/Set (internal; defined in value.cpp).
  struct Seq;
  /// Storage of a Dict (internal; defined in value.cpp).
  struct Map;
  /// Storage of a Str, Bytes, BigInt or Global (internal; defined in value.cpp).
  struct Text;

 private:
  Kind kind_ = Kind::None;
  union {
    bool b;
    int64_t i;
    double f;
    double c[2];
  } scalar_{};
  std::shared_ptr<Text> text_;         // Str, Bytes, BigInt, Global
  std::shared_ptr<Seq> seq_;           // List, Tuple, Set
  std::shared_ptr<Map> map_;           // Dict
  at::Tensor tensor_;                  // Tensor

  void expect(Kind k, const char* what) const;
  static std::string repr_limited(const Value& v, int depth);
  std::string repr_here(int depth) const;
  friend struct Seq;
  friend struct Map;
  friend struct KeyOps;
  friend struct ValueInternals;
};

}  // namespace modelzoo::io
