#include "modelzoo/io/io.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "io/readers.h"
#include "io/source.h"
#include "modelzoo/error.h"

namespace modelzoo::io {

namespace detail {

Format detect(const Source& src) {
  const uint64_t size = src.size();
  std::string head = src.read_string(0, std::min<uint64_t>(size, 32));
  if (head.size() >= 4 && (head.compare(0, 4, "PK\x03\x04", 4) == 0 || head.compare(0, 4, "PK\x05\x06", 4) == 0)) {
    return Format::Zip;
  }
  // Legacy: a pickle (PROTO opcode) whose first value is the LONG1 magic number.
  static const char kMagic[] = "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      head.find(std::string(kMagic, sizeof kMagic - 1)) != std::string::npos) {
    return Format::Legacy;
  }
  // safetensors: a plausible header length (the reader checks it against the
  // file size) followed by the JSON object's '{'.
  if (head.size() >= 9 && head[8] == '{') {
    uint64_t n = 0;
    std::memcpy(&n, head.data(), 8);
    if (n >= 2 && n <= (100ull << 20)) return Format::Safetensors;
  }
  return Format::Unknown;
}

bool is_tar_header(const Source& src) {
  if (src.size() < 512) return false;
  const std::string b = src.read_string(0, 512);
  if (b.find_first_not_of('\0') == std::string::npos) return false;  // an end-of-archive block
  // The checksum field as Python's tarfile reads it: octal text up to a NUL,
  // surrounding whitespace allowed (base-256 checksums are not produced by any tar).
  std::string field = b.substr(148, 8);
  field = field.substr(0, field.find('\0'));
  const auto first = field.find_first_not_of(" \t\n\r\v\f");
  if (first == std::string::npos) {
    field.clear();
  } else {
    field = field.substr(first, field.find_last_not_of(" \t\n\r\v\f") - first + 1);
  }
  int64_t declared = 0;
  bool negative = false;
  std::size_t i = 0;
  if (!field.empty() && (field[0] == '+' || field[0] == '-')) negative = field[i++] == '-';
  if (i == field.size() && !field.empty()) return false;
  bool last_digit = false;
  for (; i < field.size(); ++i) {
    const char c = field[i];
    if (c == '_' && last_digit && i + 1 < field.size()) {
      last_digit = false;
      continue;
    }
    if (c < '0' || c > '7') return false;
    declared = declared * 8 + (c - '0');
    last_digit = true;
  }
  if (negative) declared = -declared;
  int64_t unsigned_sum = 256, signed_sum = 256;
  for (std::size_t k = 0; k < 512; ++k) {
    if (k >= 148 && k < 156) continue;
    unsigned_sum += static_cast<unsigned char>(b[k]);
    signed_sum += static_cast<signed char>(b[k]);
  }
  return declared == unsigned_sum || declared == signed_sum;
}

}  // namespace detail

const char* format_name(Format f) {
  switch (f) {
    case Format::Zip: return "zip";
    case Format::Legacy: return "legacy";
    case Format::Safetensors: return "safetensors";
    case Format::Unknown: return "unknown";
  }
  return "unknown";
}

Format detect_format(const std::filesystem::path& file) { return detail::detect(*detail::open_file(file)); }

namespace {

// A copy of the tree with every tensor moved to `device`. A container shared
// in the tree is copied once and stays shared, so shared structure (a pickle
// can nest 60 pairs of one tuple in 362 bytes) costs its size, not its expansion.
Value moved(const Value& v, const c10::Device& device, int depth, std::unordered_map<const void*, Value>& done) {
  if (depth > 1000) throw FormatError("value tree nested too deeply to move to " + device.str());
  if (v.is_tensor()) return Value(v.as_tensor().to(device));
  const void* id = v.identity();
  if (!id) return v;
  if (auto it = done.find(id); it != done.end()) return it->second;
  Value out;
  if (v.is_dict()) {
    out = v.is_ordered_dict() ? Value::ordered_dict() : Value::dict();
    for (const auto& [k, x] : v.entries()) out.set(k, moved(x, device, depth + 1, done));
    if (const Value* attrs = v.attributes()) out.update_attributes(*attrs);
  } else {
    std::vector<Value> items;
    for (const auto& x : v.items()) items.push_back(moved(x, device, depth + 1, done));
    out = v.is_list() ? Value::list(std::move(items)) : v.is_tuple() ? Value::tuple(std::move(items))
                                                                    : Value::set(std::move(items));
  }
  done.emplace(id, out);
  return out;
}

bool is_tensor_dict(const Value& v) {
  if (!v.is_dict()) return false;
  for (const auto& [k, x] : v.entries()) {
    if (!k.is_str()) return false;
    if (x.is_tensor()) continue;
    if (k.as_str() == "__metadata__" && x.is_dict()) continue;  // safetensors metadata
    return false;
  }
  return true;
}

std::string key_list(const Value& v) {
  std::string out;
  std::size_t i = 0;
  for (const auto& e : v.entries()) {
    if (i++ == 8) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "" : ", ") + e.first.repr() + " (" + e.second.kind_name() + ")";
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Value read(const std::filesystem::path& file, const ReadOptions& options) {
  std::shared_ptr<const detail::Source> src = options.mmap ? detail::map_file(file) : detail::open_file(file);
  const Format format = detail::detect(*src);
  if (detail::is_tar_header(*src)) {
    throw FormatError(file.string() + ": ambiguous file: its first 512 bytes are a valid tar header, and torch.load "
                      "reads a tar archive (torch's oldest format) before it tries the " +
                      std::string(format == Format::Unknown ? "other" : format_name(format)) +
                      " format, so Python would read something else than this reader; refused");
  }
  Value v;
  switch (format) {
    case Format::Zip: v = detail::read_zip(src, options.mmap); break;
    case Format::Legacy: v = detail::read_legacy(src, options.mmap); break;
    case Format::Safetensors: v = detail::read_safetensors(src, options.mmap); break;
    case Format::Unknown:
      throw FormatError(file.string() + ": unknown weight file format (bad magic): expected a zip archive (PK), "
                        "a legacy torch.save pickle, or a safetensors header");
  }
  if (!options.device.is_cpu()) {
    std::unordered_map<const void*, Value> done;
    v = moved(v, options.device, 0, done);
  }
  return v;
}

StateDict to_state_dict(const Value& v, const std::string& origin) {
  const Value* dict = nullptr;
  if (is_tensor_dict(v)) {
    dict = &v;
  } else if (v.is_dict()) {
    for (const char* key : {"state_dict", "state", "model", "model_state_dict"}) {
      const Value* inner = v.find(key);
      if (inner && is_tensor_dict(*inner)) {
        dict = inner;
        break;
      }
    }
  }
  if (!dict) {
    throw FormatError(origin + ": no state dict found: expected a dict of tensors at the top level or under "
                      "'state_dict', 'state', 'model' or 'model_state_dict'; found " +
                      (v.is_dict() ? "a dict with keys " + key_list(v) : std::string(v.kind_name())));
  }
  StateDict sd;
  sd.reserve(dict->size());
  for (const auto& [k, x] : dict->entries()) {
    if (x.is_tensor()) sd.insert(k.as_str(), x.as_tensor());
  }
  return sd;
}

StateDict read_state_dict(const std::filesystem::path& file, const ReadOptions& options) {
  return to_state_dict(read(file, options), file.string());
}

namespace {

// Writes through `body` into a temp file beside `file`, then renames it over
// `file`. On any failure the temp file is removed and `file` is untouched.
void write_atomically(const std::filesystem::path& file, const std::function<void(std::FILE*)>& body) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  const std::filesystem::path tmp =
      dir / ("." + file.filename().string() + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".tmp");
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw FormatError(file.string() + ": cannot create " + tmp.string() + ": " + std::strerror(errno));
  try {
    body(f);
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
      throw FormatError(file.string() + ": write failed: " + std::strerror(errno));
    }
    if (std::fclose(f) != 0) {
      f = nullptr;
      throw FormatError(file.string() + ": close failed: " + std::strerror(errno));
    }
    f = nullptr;
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) throw FormatError(file.string() + ": cannot rename " + tmp.string() + " into place: " + ec.message());
  } catch (...) {
    if (f) std::fclose(f);
    std::error_code ignore;
    std::filesystem::remove(tmp, ignore);
    throw;
  }
}

}  // namespace

void write(const std::filesystem::path& file, const Value& value, const WriteOptions& options) {
  switch (options.format) {
    case Format::Zip:
      write_atomically(file, [&](std::FILE* f) { detail::write_zip(f, value, "archive", file.string()); });
      return;
    case Format::Safetensors:
      write_atomically(file, [&](std::FILE* f) { detail::write_safetensors(f, value, file.string()); });
      return;
    default:
      throw FormatError(file.string() + ": cannot write format '" + format_name(options.format) +
                        "'; expected zip or safetensors");
  }
}

void write_state_dict(const std::filesystem::path& file, const StateDict& sd, const WriteOptions& options) {
  Value d = Value::ordered_dict();
  for (const auto& item : sd) d.set(Value(item.key()), Value(item.value()));
  write(file, d, options);
}

}  // namespace modelzoo::io
