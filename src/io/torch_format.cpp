// Readers for the two torch.save formats.
//
// Zip (torch >= 1.6): `<prefix>/data.pkl` is the object pickle; every
// persistent id ('storage', torch.XStorage, key, location, numel) names the
// record `<prefix>/data/<key>` holding the raw little-endian bytes (big-endian
// when `<prefix>/byteorder` says "big"). `<prefix>` is whatever directory the
// writer chose: "archive", the file's stem, ...
//
// Legacy (torch < 1.6): five pickles back to back (magic number, protocol
// 1001, sys_info, the object, the list of storage keys), then each storage in
// key order as an int64 element count followed by the raw bytes. Persistent
// ids are ('storage', torch.XStorage, root_key, location, numel,
// view_metadata) where view_metadata (view_key, offset, size) makes a storage
// that is a slice of the root storage; tensors on such a view are placed on
// the root storage itself (storage offset = view offset + tensor offset), so
// every tensor of one root shares one storage. The object pickle is read before the
// storages, so storages start empty and get their memory once the storage
// section has been checked and read.

#include <ATen/ops/empty.h>
#include <c10/core/Storage.h>

#include <cstring>
#include <functional>
#include <unordered_map>

#include "io/dtypes.h"
#include "io/pickle_detail.h"
#include "io/readers.h"
#include "io/zip.h"
#include "modelzoo/error.h"
#include "modelzoo/io/unpickler.h"

namespace modelzoo::io::detail {

namespace {

constexpr const char* kLegacyMagic = "119547037146038801333356";  // 0x1950a86a20f9469cfc6c
constexpr int64_t kLegacyProtocol = 1001;

struct StorageRef {
  std::string key;
  c10::ScalarType dtype;
  std::string location;
  uint64_t numel;
  Value view_metadata;  // None, or (view_key, offset, size)
};

std::string key_text(const Value& v, const std::string& origin) {
  if (v.is_str()) return v.as_str();
  if (v.is_bytes()) return v.as_bytes();
  if (v.is_int()) return v.int_text();
  throw FormatError(origin + ": storage key must be a str or int, found " + v.kind_name() + " " + v.repr());
}

bool is_text(const Value& v, const char* text) {
  return (v.is_str() && v.as_str() == text) || (v.is_bytes() && v.as_bytes() == text);
}

StorageRef parse_pid(const Value& pid, const std::string& origin) {
  if (!pid.is_tuple() || pid.items().empty()) {
    throw FormatError(origin + ": persistent id must be a tuple, found " + pid.repr());
  }
  const auto& it = pid.items();
  if (is_text(it[0], "module")) {
    throw UnsafePickleError(origin + ": refusing pickled module class " + (it.size() > 1 ? it[1].repr() : "?") +
                            ": source code of a Python class is not weights; nothing was executed");
  }
  if (!is_text(it[0], "storage")) {
    throw FormatError(origin + ": persistent id must start with 'storage', found " + it[0].repr());
  }
  if (it.size() != 5 && it.size() != 6) {
    throw FormatError(origin + ": storage persistent id must have 5 or 6 items, found " + std::to_string(it.size()) +
                      ": " + pid.repr());
  }
  StorageRef ref;
  if (!it[1].is_global()) throw FormatError(origin + ": storage type must be a torch storage class, found " + it[1].repr());
  auto dtype = storage_class_dtype(it[1].global_name());
  if (!dtype) throw FormatError(origin + ": unsupported storage type " + it[1].global_name());
  ref.dtype = *dtype;
  ref.key = key_text(it[2], origin);
  ref.location = it[3].is_str() ? it[3].as_str() : it[3].is_bytes() ? it[3].as_bytes() : it[3].repr();
  if (!it[4].is_int() || it[4].as_float() < 0) {
    throw FormatError(origin + ": storage '" + ref.key + "' has an invalid element count " + it[4].repr());
  }
  if (it[4].kind() == Value::Kind::BigInt) {
    throw FormatError(origin + ": storage '" + ref.key + "' declares " + it[4].int_text() + " elements, too many");
  }
  ref.numel = static_cast<uint64_t>(it[4].as_int());
  if (it.size() == 6) ref.view_metadata = it[5];
  return ref;
}

// numel * itemsize, refusing overflow and anything larger than the file.
uint64_t storage_bytes(const StorageRef& ref, const Source& src) {
  const uint64_t itemsize = c10::elementSize(ref.dtype);
  if (ref.numel > src.size() / itemsize) {
    throw FormatError(src.origin() + ": storage '" + ref.key + "' declares " + std::to_string(ref.numel) +
                      " elements of " + dtype_name(ref.dtype) + " (" + std::to_string(itemsize) +
                      " bytes each) but the whole file has only " + std::to_string(src.size()) + " bytes");
  }
  return ref.numel * itemsize;
}

// Unpickles at `pos`. A mapped source is parsed in place; otherwise a window
// of the file is read and widened while the pickle runs past it.
UnpickleResult unpickle_at(const Source& src, uint64_t pos, const UnpickleOptions& opts,
                           const std::function<void()>& reset = {}) {
  src.check_range(pos, 0, "pickle");
  const uint64_t remaining = src.size() - pos;
  if (src.data()) {
    return unpickle(std::string_view(reinterpret_cast<const char*>(src.data()) + pos, remaining), opts);
  }
  uint64_t window = std::min<uint64_t>(remaining, 1 << 20);
  while (true) {
    std::string buf = src.read_string(pos, window);
    if (reset) reset();
    try {
      return unpickle(buf, opts);
    } catch (const PickleTruncated&) {
      if (window == remaining) throw;
      window = std::min<uint64_t>(remaining, window * 4);
    }
  }
}

}  // namespace

Value read_zip(const std::shared_ptr<const Source>& src, bool alias) {
  ZipReader zip(src);
  const std::string& origin = src->origin();
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const std::string& n = e.name;
    if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0 && (n.size() == 8 || n[n.size() - 9] == '/')) {
      if (!pkl || n.size() < pkl->name.size()) pkl = &e;
    }
  }
  if (!pkl) {
    std::string names;
    for (std::size_t i = 0; i < zip.entries().size() && i < 5; ++i) names += (i ? ", " : "") + zip.entries()[i].name;
    throw FormatError(origin + ": zip archive has no data.pkl record (is it a torch.save file?); records: " +
                      (names.empty() ? std::string("none") : names));
  }
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);
  // torch.load takes the archive's directory from its records and refuses or
  // reads differently an archive with records elsewhere.
  for (const auto& e : zip.entries()) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) {
      throw FormatError(origin + ": zip record '" + (e.name.size() > 80 ? e.name.substr(0, 77) + "..." : e.name) +
                        "' lies outside the directory '" + prefix + "' of " + pkl->name +
                        " (an ambiguous archive: torch.save keeps every record there)");
    }
  }
  bool byteswap = false;
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::string order = zip.read(*bo);
    while (!order.empty() && (order.back() == '\n' || order.back() == '\r')) order.pop_back();
    if (order == "big") byteswap = true;
    else if (order != "little") {
      throw FormatError(origin + ": record " + bo->name + " must be 'little' or 'big', found '" + order + "'");
    }
  }
  std::unordered_map<std::string, at::Tensor> storages;
  UnpickleOptions opts;
  opts.origin = origin + ":" + pkl->name;
  opts.persistent_load = [&](const Value& pid) -> Value {
    StorageRef ref = parse_pid(pid, opts.origin);
    auto found = storages.find(ref.key);
    if (found != storages.end()) {
      if (found->second.scalar_type() != ref.dtype) {
        throw FormatError(opts.origin + ": storage '" + ref.key + "' is used as both " +
                          dtype_name(found->second.scalar_type()) + " and " + dtype_name(ref.dtype));
      }
      return Value(found->second);
    }
    const std::string record = prefix + "data/" + ref.key;
    const ZipEntry* e = zip.find(record);
    if (!e) throw FormatError(origin + ": storage '" + ref.key + "' has no record " + record);
    const uint64_t itemsize = c10::elementSize(ref.dtype);
    if (ref.numel > e->size / itemsize) {
      throw FormatError(origin + ": storage '" + ref.key + "' declares " + std::to_string(ref.numel) + " elements of " +
                        dtype_name(ref.dtype) + " (" +
                        (ref.numel > UINT64_MAX / itemsize ? std::string("overflowing 64 bits")
                                                           : std::to_string(ref.numel * itemsize) + " bytes") +
                        ") but record " + record + " holds " + std::to_string(e->size) + " bytes");
    }
    at::Tensor t = zip.read_storage(*e, ref.numel * itemsize, ref.dtype, byteswap, alias);
    storages.emplace(ref.key, t);
    return Value(t);
  };
  std::string pickle = zip.read(*pkl);
  return unpickle(pickle, opts).value;
}

Value read_legacy(const std::shared_ptr<const Source>& src, bool alias) {
  const Source& s = *src;
  const std::string& origin = s.origin();
  uint64_t pos = 0;
  UnpickleOptions plain;
  plain.origin = origin + " (magic number)";
  auto magic = unpickle_at(s, pos, plain);
  if (!magic.value.is_int() || magic.value.int_text() != kLegacyMagic) {
    throw FormatError(origin + ": bad magic number: expected the torch.save legacy magic " + kLegacyMagic +
                      ", found " + magic.value.repr());
  }
  pos += magic.consumed;
  plain.origin = origin + " (protocol version)";
  auto proto = unpickle_at(s, pos, plain);
  if (!proto.value.is_int() || proto.value.int_text() != std::to_string(kLegacyProtocol)) {
    throw FormatError(origin + ": unsupported legacy protocol version: expected 1001, found " + proto.value.repr());
  }
  pos += proto.consumed;
  plain.origin = origin + " (sys_info)";
  auto sys = unpickle_at(s, pos, plain);
  pos += sys.consumed;
  bool little = true;
  if (sys.value.is_dict()) {
    if (const Value* le = sys.value.find("little_endian")) little = le->is_bool() ? le->as_bool() : le->as_int() != 0;
  } else {
    throw FormatError(origin + ": sys_info must be a dict, found " + sys.value.repr());
  }
  const bool byteswap = !little;

  struct Root {
    at::Tensor storage;
    c10::ScalarType dtype;
    uint64_t numel;
    bool filled = false;
  };
  std::unordered_map<std::string, Root> roots;
  std::unordered_map<std::string, at::Tensor> views;
  UnpickleOptions opts;
  opts.origin = origin + " (object pickle)";
  opts.persistent_load = [&](const Value& pid) -> Value {
    StorageRef ref = parse_pid(pid, opts.origin);
    auto it = roots.find(ref.key);
    if (it == roots.end()) {
      const uint64_t nbytes = storage_bytes(ref, s);
      it = roots.emplace(ref.key, Root{unfilled_storage(nbytes, ref.dtype), ref.dtype, ref.numel}).first;
    } else if (it->second.dtype != ref.dtype || it->second.numel != ref.numel) {
      throw FormatError(opts.origin + ": storage '" + ref.key + "' is declared twice with different types or sizes");
    }
    if (ref.view_metadata.is_none()) return Value(it->second.storage);
    const Value& vm = ref.view_metadata;
    if (!vm.is_tuple() || vm.items().size() != 3) {
      throw FormatError(opts.origin + ": view metadata of storage '" + ref.key + "' must be (key, offset, size), found " +
                        vm.repr());
    }
    std::string view_key = key_text(vm.items()[0], opts.origin);
    auto found = views.find(view_key);
    if (found != views.end()) return Value(found->second);
    const int64_t off = vm.items()[1].as_int();
    const int64_t len = vm.items()[2].as_int();
    if (off < 0 || len < 0 || static_cast<uint64_t>(off) > ref.numel ||
        static_cast<uint64_t>(len) > ref.numel - static_cast<uint64_t>(off)) {
      throw FormatError(opts.origin + ": view '" + view_key + "' of storage '" + ref.key + "' covers [" +
                        std::to_string(off) + ", " + std::to_string(off) + "+" + std::to_string(len) +
                        ") outside its " + std::to_string(ref.numel) + " elements");
    }
    // A view is a window on the root storage, so its tensors share the root's memory.
    at::Tensor view = it->second.storage.narrow(0, off, len);
    views.emplace(view_key, view);
    return Value(view);
  };
  auto obj = unpickle_at(s, pos, opts, [&] {
    roots.clear();
    views.clear();
  });
  pos += obj.consumed;
  plain.origin = origin + " (storage keys)";
  auto keys = unpickle_at(s, pos, plain);
  pos += keys.consumed;
  if (!keys.value.is_list() && !keys.value.is_tuple()) {
    throw FormatError(origin + ": storage key list must be a list, found " + keys.value.repr());
  }
  for (const Value& k : keys.value.items()) {
    std::string key = key_text(k, origin);
    auto it = roots.find(key);
    if (it == roots.end()) {
      throw FormatError(origin + ": storage '" + key + "' in the storage list is not used by the object pickle");
    }
    Root& root = it->second;
    if (root.filled) throw FormatError(origin + ": storage '" + key + "' appears twice in the storage list");
    s.check_range(pos, 8, "element count of storage '" + key + "'");
    uint8_t head[8];
    s.read(pos, head, 8);
    if (byteswap) std::reverse(head, head + 8);
    uint64_t numel;
    std::memcpy(&numel, head, 8);
    if (numel != root.numel) {
      throw FormatError(origin + ": storage '" + key + "' at offset " + std::to_string(pos) + " has " +
                        std::to_string(numel) + " elements but the pickle declared " + std::to_string(root.numel));
    }
    const uint64_t nbytes = numel * c10::elementSize(root.dtype);
    s.check_range(pos + 8, nbytes, "storage '" + key + "' (" + std::to_string(numel) + " elements of " +
                                       dtype_name(root.dtype) + ")");
    at::Tensor data = load_storage(src, pos + 8, nbytes, root.dtype, byteswap, alias);
    root.storage.storage().set_data_ptr(data.storage().set_data_ptr(c10::DataPtr()));
    root.filled = true;
    pos += 8 + nbytes;
  }
  for (const auto& [key, root] : roots) {
    if (!root.filled) {
      throw FormatError(origin + ": storage '" + key + "' is used by the object pickle but missing from the storage list");
    }
  }
  return obj.value;
}

}  // namespace modelzoo::io::detail
