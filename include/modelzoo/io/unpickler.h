#pragma once
/// \file
/// A restricted unpickler for the pickles inside weight files.
///
/// It reads protocols 0-5 as Python writes them (torch.save uses protocol 2;
/// Python 2 pickles with BINSTRING/SHORT_BINSTRING and LONG1 ints included)
/// into a Value tree. It never imports or runs anything: every GLOBAL,
/// STACK_GLOBAL and INST is resolved against a fixed allowlist (see
/// `is_allowed_global`) at the moment it is read, and anything else is
/// refused with UnsafePickleError naming the global, before any later
/// opcode runs. REDUCE, NEWOBJ and BUILD apply only to allowlisted
/// callables, each implemented here in C++:
///
/// | global | result |
/// |---|---|
/// | collections.OrderedDict | ordered Dict (from nothing or from (key, value) pairs) |
/// | torch._utils._rebuild_tensor(_v2), _rebuild_parameter(_with_state), torch._tensor._rebuild_from_type_v2 | Tensor on the storage returned by the persistent loader |
/// | torch.*Storage, torch.cuda.*Storage, torch.UntypedStorage | only as the storage type of a persistent id |
/// | torch.float16, torch.int64, ... (dtypes), torch.Tensor, torch.nn.parameter.Parameter | Global values |
/// | torch.Size | Tuple |
/// | torch.device | Str such as "cuda:0" |
/// | builtins.set / frozenset / bytearray / complex (also `__builtin__.`) | Set / Bytes / Complex |
/// | _codecs.encode(str, "latin1" or "utf-8") | Bytes (how Python 3 pickles bytes at protocol 2) |
///
/// Every read is bounds-checked against the input; stack underflow, a
/// missing MARK, an undefined memo index or an unknown opcode is a
/// FormatError naming the offset and opcode.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "modelzoo/io/value.h"

namespace modelzoo::io {

/// Turns a persistent id (the argument of PERSID/BINPERSID, e.g. the tuple
/// `('storage', torch.FloatStorage, '0', 'cpu', 6)`) into a value; for
/// storages, a 1-D tensor of the storage's dtype covering the whole storage.
using PersistentLoader = std::function<Value(const Value& pid)>;

/// How to unpickle.
struct UnpickleOptions {
  /// Names the pickle in messages (e.g. "model.pth:archive/data.pkl").
  std::string origin = "pickle";
  /// Resolves persistent ids; when empty, a persistent id is a FormatError.
  PersistentLoader persistent_load;
};

/// What `unpickle` returns.
struct UnpickleResult {
  Value value;           ///< the object STOP returned
  std::size_t consumed;  ///< bytes read, up to and including STOP
};

/// Unpickles one pickle from the start of `data` (it may be followed by more
/// bytes, as in the legacy format). Throws UnsafePickleError for a global
/// outside the allowlist, FormatError for malformed or truncated input.
UnpickleResult unpickle(std::string_view data, const UnpickleOptions& options = {});

/// Whether `module.name` is on the allowlist (Python 2 module names such as
/// `__builtin__` are accepted for their Python 3 equivalents).
bool is_allowed_global(std::string_view module, std::string_view name);

}  // namespace modelzoo::io
