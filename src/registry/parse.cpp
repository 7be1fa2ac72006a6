// Parsing and validation of registry documents (schema: registry/README.md).
#include "registry/parse.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <mutex>
#include <cmath>
#include <cstdio>
#include <optional>
#include <regex>
#include <set>

#include "modelzoo/error.h"

namespace modelzoo::registry::detail {

using nlohmann::json;

namespace {

constexpr std::size_t kMinPrefixLength = 8;
constexpr uint64_t kMaxImageSide = 65536;
const std::string kNameRule =
    "expected a non-empty name of at most 255 bytes without '/', '\\', \"..\" or control characters";

const std::vector<std::string> kRootKeys = {"format_version", "description", "categories",
                                            "models"};
const std::vector<std::string> kModelKeys = {"arch", "default", "task", "weights"};
const std::vector<std::string> kWeightsKeys = {"url",        "sha256",          "sha256_prefix",
                                               "size",       "hash_confidence", "size_confidence",
                                               "file_name",  "transforms",      "categories",
                                               "meta"};
const std::vector<std::string> kConfidences = {"multiple_sources", "single_source"};
const std::vector<std::string> kTransformKeys = {"resize_size", "crop_size",   "interpolation",
                                                 "mean",        "std",         "value_scale",
                                                 "channel_order"};

// A pointer as shown in messages: "/" for the root, control characters escaped.
std::string display(const std::string& pointer) {
  if (pointer.empty()) return "/";
  std::string out;
  for (unsigned char c : pointer) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// What a JSON value is, for "got ..." in messages.
std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    case json::value_t::string: return "string " + quote(v.get<std::string>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number " + v.dump();
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array of " + std::to_string(v.size()) + " elements";
    default: return "an unsupported value";
  }
}

bool is_lower_hex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool has_control_or_space(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == ' ') return true;
  }
  return false;
}

// Shared helpers bound to one document's origin.
class Checker {
 public:
  explicit Checker(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void error(const std::string& pointer, const std::string& message) const {
    fail(origin_, pointer, message);
  }

  const json& object(const json& v, const std::string& p) const {
    if (!v.is_object()) error(p, "expected an object, got " + describe(v));
    return v;
  }

  std::string string(const json& v, const std::string& p) const {
    if (!v.is_string()) error(p, "expected a string, got " + describe(v));
    return v.get<std::string>();
  }

  std::string name(const std::string& n, const std::string& p, const char* what) const {
    if (!is_safe_name(n)) {
      error(p, std::string("invalid ") + what + " " + quote(n) +
                   ": " + kNameRule);
    }
    return n;
  }

  uint64_t positive_integer(const json& v, const std::string& p) const {
    if (v.is_number_unsigned() && v.get<uint64_t>() > 0) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() > 0) return static_cast<uint64_t>(v.get<int64_t>());
    error(p, "expected a positive integer, got " + describe(v));
  }

  double number(const json& v, const std::string& p) const {
    if (!v.is_number()) error(p, "expected a number, got " + describe(v));
    return v.get<double>();
  }

  void known_keys(const json& obj, const std::string& p, const std::vector<std::string>& keys) const {
    for (const auto& item : obj.items()) {
      bool known = false;
      for (const auto& k : keys) known = known || k == item.key();
      if (known) continue;
      std::string msg = "unknown field " + quote(item.key());
      auto close = suggest_names(item.key(), keys, 1);
      if (!close.empty()) msg += " (did you mean " + quote(close.front()) + "?)";
      msg += "; expected one of: " + join(keys);
      error(child(p, item.key()), msg);
    }
  }

  const json& required(const json& obj, const std::string& p, const std::string& key,
                       const std::string& expected) const {
    auto it = obj.find(key);
    if (it == obj.end()) error(p, "missing required field " + quote(key) + " (" + expected + ")");
    return *it;
  }

 private:
  std::string origin_;
};

// Parses JSON text, refusing duplicate keys (nlohmann keeps the last one
// silently) and reporting syntax errors with line and column.
json parse_strict(const std::string& text, const std::string& origin) {
  struct Frame {
    bool is_array = false;
    std::set<std::string> keys;
    std::string key;
    long index = -1;
  };
  std::vector<Frame> stack;
  std::optional<std::pair<std::string, std::string>> duplicate;  // pointer, key

  auto element_starts = [&stack] {
    if (!stack.empty() && stack.back().is_array) ++stack.back().index;
  };
  auto pointer_to_top = [&stack] {
    std::string p;
    for (std::size_t i = 0; i + 1 < stack.size(); ++i) {
      p = child(p, stack[i].is_array ? std::to_string(stack[i].index) : stack[i].key);
    }
    return p;
  };
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        element_starts();
        stack.push_back(Frame{});
        break;
      case json::parse_event_t::array_start:
        element_starts();
        stack.push_back(Frame{true, {}, {}, -1});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second && !duplicate) {
          duplicate.emplace(pointer_to_top(), f.key);
        }
        break;
      }
      case json::parse_event_t::value:
        element_starts();
        break;
    }
    return true;
  };

  json doc;
  try {
    doc = json::parse(text, callback, /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto start = what.find("parse error");
    if (start != std::string::npos) what = what.substr(start);
    throw RegistryError(origin + ": invalid JSON: " + what);
  } catch (const json::exception& e) {  // e.g. a number too large for a double (out_of_range 406)
    throw RegistryError(origin + ": invalid JSON: " + e.what());
  }
  if (duplicate) {
    fail(origin, duplicate->first,
         "duplicate key " + quote(duplicate->second) +
             " (a name may appear only once per object in one document)");
  }
  return doc;
}

std::string url_basename(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_hub_url(const std::string& url) { return url.rfind("hf://", 0) == 0; }

// Checks the scheme (http, https, file or hf, any case) and the characters.
void check_url(const Checker& c, const std::string& url, const std::string& p) {
  std::string lower;
  for (char ch : url.substr(0, 8)) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  std::size_t scheme_len = 0;
  for (const char* s : {"http://", "https://", "file://", "hf://"}) {
    if (lower.rfind(s, 0) == 0) scheme_len = std::string(s).size();
  }
  if (scheme_len == 0) {
    c.error(p, "expected a URL starting with http://, https://, file:// or hf://, got " + quote(url));
  }
  if (is_hub_url(url)) {
    // hf://ORG/NAME[@REVISION]/PATH; the fetch stage checks the characters.
    const std::string rest = url.substr(5);
    const auto s1 = rest.find('/');
    const auto s2 = s1 == std::string::npos ? s1 : rest.find('/', s1 + 1);
    if (s1 == 0 || s2 == std::string::npos || s2 == s1 + 1 || s2 + 1 >= rest.size()) {
      c.error(p, "expected hf://ORG/NAME[@REVISION]/PATH, got " + quote(url));
    }
  }
  if (url.size() == scheme_len) c.error(p, "URL " + quote(url) + " has nothing after the scheme");
  if (has_control_or_space(url)) {
    c.error(p, "URL " + quote(url) + " contains spaces or control characters (percent-encode them)");
  }
}

// Fields `j` gives replace those of `t` (the defaults, or an earlier layer's values).
Transforms parse_transforms(const Checker& c, const json& j, const std::string& p, Transforms t = {}) {
  c.object(j, p);
  c.known_keys(j, p, kTransformKeys);
  for (const char* key : {"resize_size", "crop_size"}) {
    if (!j.contains(key)) continue;
    const std::string q = child(p, key);
    const uint64_t v = c.positive_integer(j[key], q);
    if (v > kMaxImageSide) {
      c.error(q, "expected at most " + std::to_string(kMaxImageSide) + " pixels, got " + describe(j[key]));
    }
    (std::string(key) == "resize_size" ? t.resize_size : t.crop_size) = static_cast<int64_t>(v);
  }
  if (j.contains("interpolation")) {
    std::string q = child(p, "interpolation");
    t.interpolation = c.string(j["interpolation"], q);
    if (t.interpolation != "bilinear" && t.interpolation != "bicubic" && t.interpolation != "nearest") {
      c.error(q, "expected \"bilinear\", \"bicubic\" or \"nearest\", got " + quote(t.interpolation));
    }
  }
  for (const char* key : {"mean", "std"}) {
    if (!j.contains(key)) continue;
    std::string q = child(p, key);
    const json& v = j[key];
    if (!v.is_array() || v.size() != 3) c.error(q, "expected an array of 3 numbers, got " + describe(v));
    std::array<double, 3>& out = std::string(key) == "mean" ? t.mean : t.std;
    for (std::size_t i = 0; i < 3; ++i) {
      std::string qi = child(q, std::to_string(i));
      out[i] = c.number(v[i], qi);
      if (!std::isfinite(out[i])) c.error(qi, "expected a finite number, got " + describe(v[i]));
      if (std::string(key) == "std" && !(out[i] > 0)) {
        c.error(qi, "expected a positive standard deviation, got " + describe(v[i]));
      }
    }
  }
  if (j.contains("value_scale")) {
    std::string q = child(p, "value_scale");
    t.value_scale = c.number(j["value_scale"], q);
    if (t.value_scale != 1.0 && t.value_scale != 255.0) {
      c.error(q, "expected 1 or 255, got " + describe(j["value_scale"]));
    }
  }
  if (j.contains("channel_order")) {
    std::string q = child(p, "channel_order");
    t.channel_order = c.string(j["channel_order"], q);
    if (t.channel_order != "RGB" && t.channel_order != "BGR") {
      c.error(q, "expected \"RGB\" or \"BGR\", got " + quote(t.channel_order));
    }
  }
  return t;
}


/// Why `pattern` is not an ECMAScript regular expression, or nothing. Registry
/// entries repeat the same rules (every timm weights of a layout carries its
/// layout's), so each distinct pattern is compiled once per process.
std::optional<std::string> regex_error_of(const std::string& pattern) {
  static std::mutex mu;
  static std::set<std::string> valid;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (valid.count(pattern) != 0) return std::nullopt;
  }
  try {
    std::regex re(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return std::string(e.what());
  }
  std::lock_guard<std::mutex> lock(mu);
  valid.insert(pattern);
  return std::nullopt;
}

void check_meta(const Checker& c, const json& meta, const std::string& p) {
  c.object(meta, p);
  if (meta.contains("num_params")) c.positive_integer(meta["num_params"], child(p, "num_params"));
  for (const char* key : {"recipe", "license", "docs"}) {
    if (meta.contains(key)) c.string(meta[key], child(p, key));
  }
  if (meta.contains("min_size")) {
    std::string q = child(p, "min_size");
    const json& v = meta["min_size"];
    if (!v.is_array() || v.size() != 2) c.error(q, "expected [height, width], got " + describe(v));
    c.positive_integer(v[0], child(q, "0"));
    c.positive_integer(v[1], child(q, "1"));
  }
  if (meta.contains("metrics")) {
    std::string q = child(p, "metrics");
    c.object(meta["metrics"], q);
    for (const auto& dataset : meta["metrics"].items()) {
      std::string qd = child(q, dataset.key());
      c.object(dataset.value(), qd);
      for (const auto& metric : dataset.value().items()) {
        if (!metric.value().is_number() && !metric.value().is_null()) {
          c.error(child(qd, metric.key()), "expected a number or null, got " + describe(metric.value()));
        }
      }
    }
  }
  if (meta.contains("arch_options")) c.object(meta["arch_options"], child(p, "arch_options"));
  if (meta.contains("key_renames")) {
    std::string q = child(p, "key_renames");
    const json& v = meta["key_renames"];
    if (!v.is_array()) c.error(q, "expected an array of [pattern, replacement] pairs, got " + describe(v));
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::string qi = child(q, std::to_string(i));
      const json& rule = v[i];
      if (!rule.is_array() || rule.size() != 2) c.error(qi, "expected [pattern, replacement], got " + describe(rule));
      const std::string pattern = c.string(rule[0], child(qi, "0"));
      c.string(rule[1], child(qi, "1"));
      if (const auto why = regex_error_of(pattern)) {
        c.error(child(qi, "0"), "expected a regular expression (ECMAScript), got " + quote(pattern) + ": " + *why);
      }
    }
  }
  if (meta.contains("key_reshapes")) {
    // [[pattern, [dims...]], ...]: file tensors whose (renamed) key matches are viewed with that shape.
    std::string q = child(p, "key_reshapes");
    const json& v = meta["key_reshapes"];
    if (!v.is_array()) c.error(q, "expected an array of [pattern, [dims...]] pairs, got " + describe(v));
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::string qi = child(q, std::to_string(i));
      const json& rule = v[i];
      if (!rule.is_array() || rule.size() != 2 || !rule[1].is_array() || rule[1].empty()) {
        c.error(qi, "expected [pattern, [dims...]], got " + describe(rule));
      }
      const std::string pattern = c.string(rule[0], child(qi, "0"));
      if (const auto why = regex_error_of(pattern)) {
        c.error(child(qi, "0"), "expected a regular expression (ECMAScript), got " + quote(pattern) + ": " + *why);
      }
      std::size_t inferred = 0;
      for (std::size_t d = 0; d < rule[1].size(); ++d) {
        const json& dim = rule[1][d];
        if (!dim.is_number_integer() || (dim.get<int64_t>() < 1 && dim.get<int64_t>() != -1)) {
          c.error(child(child(qi, "1"), std::to_string(d)), "expected a positive size or -1, got " + describe(dim));
        }
        if (dim.get<int64_t>() == -1) ++inferred;
      }
      if (inferred > 1) c.error(child(qi, "1"), "at most one size may be -1");
    }
  }
}

std::vector<std::string> string_list(const Checker& c, const json& v, const std::string& p) {
  if (!v.is_array()) c.error(p, "expected an array of strings, got " + describe(v));
  std::vector<std::string> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(c.string(v[i], child(p, std::to_string(i))));
  return out;
}

std::vector<std::string> parse_categories(const Checker& c, const json& v, const std::string& p,
                                          const CategoryTables& doc_tables,
                                          const CategoryTables& known) {
  if (v.is_null()) return {};
  if (v.is_string()) {
    const std::string table = v.get<std::string>();
    if (auto it = doc_tables.find(table); it != doc_tables.end()) return it->second;
    if (auto it = known.find(table); it != known.end()) return it->second;
    std::vector<std::string> names;
    for (const auto& t : doc_tables) names.push_back(t.first);
    for (const auto& t : known) names.push_back(t.first);
    std::string msg = "unknown category table " + quote(table);
    auto close = suggest_names(table, names, 1);
    if (!close.empty()) msg += " (did you mean " + quote(close.front()) + "?)";
    msg += names.empty() ? "; no category tables are defined (a table must come from this document "
                           "or an earlier-loaded one)"
                         : "; known tables: " + join(names);
    c.error(p, msg);
  }
  if (v.is_array()) return string_list(c, v, p);
  c.error(p, "expected a category table name, an array of class names or null, got " + describe(v));
}

std::string confidence(const Checker& c, const json& v, const std::string& p) {
  const std::string value = c.string(v, p);
  for (const auto& k : kConfidences) {
    if (k == value) return value;
  }
  c.error(p, "expected one of: " + join(kConfidences) + ", got " + quote(value));
}

// A weights entry as the document states it, on top of `base` (the entry an
// earlier layer defines for this tag, or nullptr): given fields replace the
// earlier ones, the rest is kept (registry/README.md, "Layers and overrides").
WeightsEntry parse_weights(const Checker& c, const std::string& tag, const json& j, const std::string& p,
                           const CategoryTables& doc_tables, const CategoryTables& known,
                           const WeightsEntry* base) {
  c.object(j, p);
  c.known_keys(j, p, kWeightsKeys);
  WeightsEntry w = base != nullptr ? *base : WeightsEntry{};
  w.tag = tag;

  const bool has_url = j.contains("url");
  if (has_url) {
    w.url = c.string(j["url"], child(p, "url"));
    check_url(c, w.url, child(p, "url"));
  } else if (base == nullptr) {
    c.required(j, p, "url", "the http://, https:// or file:// address of the weights");
  }

  const bool has_full = j.contains("sha256");
  const bool has_prefix = j.contains("sha256_prefix");
  if (has_full && has_prefix) c.error(p, "give either \"sha256\" or \"sha256_prefix\", not both");
  // A Hub file is identified by the Hub itself (its ETag is the SHA-256 of an LFS file, verified
  // while it streams): a pinned hash is optional there.
  if (!has_full && !has_prefix && base == nullptr && !is_hub_url(w.url)) {
    c.error(p, "missing required field \"sha256\" (64 lowercase hex characters) or \"sha256_prefix\"");
  }
  if (has_full) {
    std::string q = child(p, "sha256");
    w.sha256.hex = c.string(j["sha256"], q);
    if (w.sha256.hex.size() != 64 || !is_lower_hex(w.sha256.hex)) {
      c.error(q, "expected 64 lowercase hex characters, got " + quote(w.sha256.hex));
    }
    w.sha256.is_prefix = false;
  } else if (has_prefix) {
    std::string q = child(p, "sha256_prefix");
    w.sha256.hex = c.string(j["sha256_prefix"], q);
    if (w.sha256.hex.size() < kMinPrefixLength || w.sha256.hex.size() > 64 || !is_lower_hex(w.sha256.hex)) {
      c.error(q, "expected " + std::to_string(kMinPrefixLength) +
                     " to 64 lowercase hex characters, got " + quote(w.sha256.hex));
    }
    w.sha256.is_prefix = w.sha256.hex.size() < 64;
  }
  if (has_full || has_prefix) {
    // A new hash describes other bytes: the earlier size and confidences went with the old one.
    w.hash_confidence.clear();
    w.size_confidence.clear();
    if (!j.contains("size")) w.size.reset();
  }
  if (j.contains("hash_confidence")) {
    const std::string q = child(p, "hash_confidence");
    w.hash_confidence = confidence(c, j["hash_confidence"], q);
    if (w.sha256.is_prefix) c.error(q, "a confidence describes a full \"sha256\", not a prefix");
  }

  if (j.contains("size")) {
    w.size_confidence.clear();
    if (j["size"].is_null()) {
      w.size.reset();
    } else {
      w.size = c.positive_integer(j["size"], child(p, "size"));
    }
  }
  if (j.contains("size_confidence")) {
    const std::string q = child(p, "size_confidence");
    w.size_confidence = confidence(c, j["size_confidence"], q);
    if (!w.size) c.error(q, "a confidence describes a \"size\", and there is none");
  }

  if (j.contains("file_name")) {
    std::string q = child(p, "file_name");
    w.file_name = c.string(j["file_name"], q);
    if (!is_safe_file_name(w.file_name)) {
      c.error(q, "unsafe file name " + quote(w.file_name) +
                     ": " + kNameRule);
    }
  } else if (has_url) {
    // A new URL names its own file (an earlier file_name described the old one).
    w.file_name = url_basename(w.url);
    if (!is_safe_file_name(w.file_name)) {
      c.error(child(p, "url"), "cannot use the URL's last path segment " + quote(w.file_name) +
                                   " as a cache file name; give \"file_name\"");
    }
  }

  if (j.contains("transforms")) {
    w.transforms = parse_transforms(c, j["transforms"], child(p, "transforms"), w.transforms);
  }
  if (j.contains("categories")) {
    w.categories = parse_categories(c, j["categories"], child(p, "categories"), doc_tables, known);
  }
  if (j.contains("meta")) {
    check_meta(c, j["meta"], child(p, "meta"));
    if (base == nullptr) {
      w.meta = j["meta"];
    } else {
      for (const auto& item : j["meta"].items()) w.meta[item.key()] = item.value();
    }
  }
  return w;
}

}  // namespace

void fail(const std::string& origin, const std::string& pointer, const std::string& message) {
  throw RegistryError(origin + ": " + display(pointer) + ": " + message);
}

std::string child(const std::string& pointer, const std::string& token) {
  std::string out = pointer + "/";
  for (char ch : token) {
    if (ch == '~') {
      out += "~0";
    } else if (ch == '/') {
      out += "~1";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string quote(const std::string& s) {
  constexpr std::size_t kMax = 80;
  std::string shown = s.size() > kMax ? s.substr(0, kMax) : s;
  std::string out;
  try {
    out = json(shown).dump();
  } catch (const json::exception&) {
    // Cut inside a multi-byte character, or not UTF-8: replace what is invalid.
    out = json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (s.size() > kMax) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string join(const std::vector<std::string>& names, const std::string& sep) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += sep;
    out += n;
  }
  return out;
}

ParsedDocument parse_document(const std::string& text, const std::string& origin,
                              const CategoryTables& known, const EarlierWeights& earlier) {
  Checker c(origin);
  const json doc = parse_strict(text, origin);
  c.object(doc, "");
  c.known_keys(doc, "", kRootKeys);

  const json& version = c.required(doc, "", "format_version", "expected " + std::to_string(kFormatVersion));
  if (!version.is_number_integer() || version.get<int64_t>() != kFormatVersion) {
    c.error("/format_version", "unsupported format_version: expected " + std::to_string(kFormatVersion) +
                                   ", got " + describe(version));
  }
  if (doc.contains("description")) c.string(doc["description"], "/description");

  ParsedDocument out;
  if (doc.contains("categories")) {
    c.object(doc["categories"], "/categories");
    for (const auto& table : doc["categories"].items()) {
      std::string p = child("/categories", table.key());
      c.name(table.key(), p, "category table name");
      auto names = string_list(c, table.value(), p);
      if (names.empty()) c.error(p, "expected a non-empty array of class names, got an empty array");
      out.categories.emplace(table.key(), std::move(names));
    }
  }

  if (doc.contains("models")) {
    c.object(doc["models"], "/models");
    for (const auto& model : doc["models"].items()) {
      const std::string p = child("/models", model.key());
      c.name(model.key(), p, "model name");
      const json& m = c.object(model.value(), p);
      c.known_keys(m, p, kModelKeys);

      ParsedModel pm;
      pm.entry.name = model.key();
      pm.entry.origin = origin;
      if (m.contains("arch")) {
        pm.has_arch = true;
        pm.entry.arch = c.name(c.string(m["arch"], child(p, "arch")), child(p, "arch"), "architecture name");
      }
      if (m.contains("task")) {
        pm.has_task = true;
        const std::string pk = child(p, "task");
        pm.entry.task = c.string(m["task"], pk);
        bool known_task = false;
        std::string tasks;
        for (const char* t : kTasks) {
          known_task = known_task || pm.entry.task == t;
          tasks += std::string(tasks.empty() ? "" : ", ") + quote(t);
        }
        if (!known_task) c.error(pk, "expected one of " + tasks + ", got " + quote(pm.entry.task));
      }
      if (m.contains("default")) {
        pm.has_default = true;
        pm.entry.default_tag = c.string(m["default"], child(p, "default"));
      }
      if (m.contains("weights")) {
        pm.has_weights = true;
        const std::string pw = child(p, "weights");
        c.object(m["weights"], pw);
        for (const auto& w : m["weights"].items()) {
          const std::string pt = child(pw, w.key());
          c.name(w.key(), pt, "weights tag");
          if (w.key() == "DEFAULT") {
            c.error(pt, "\"DEFAULT\" is reserved (it means the model's default tag); use another tag name");
          }
          const WeightsEntry* base = earlier ? earlier(model.key(), w.key()) : nullptr;
          pm.entry.weights.push_back(parse_weights(c, w.key(), w.value(), pt, out.categories, known, base));
        }
      }
      out.models.push_back(std::move(pm));
    }
  }
  return out;
}

void validate_entry(ModelEntry& entry, const std::string& origin) {
  Checker c(origin);
  const std::string p = child("/models", entry.name);
  c.name(entry.name, p, "model name");
  if (entry.arch.empty()) entry.arch = entry.name;
  c.name(entry.arch, child(p, "arch"), "architecture name");
  if (std::none_of(std::begin(kTasks), std::end(kTasks),
                   [&entry](const char* t) { return entry.task == t; })) {
    c.error(child(p, "task"), "unknown task " + quote(entry.task));
  }
  if (entry.weights.empty()) c.error(child(p, "weights"), "expected at least one weights entry, got none");
  std::set<std::string> seen;
  for (auto& w : entry.weights) {
    const std::string pt = child(child(p, "weights"), w.tag);
    c.name(w.tag, pt, "weights tag");
    if (w.tag == "DEFAULT") c.error(pt, "\"DEFAULT\" is reserved (it means the model's default tag)");
    if (!seen.insert(w.tag).second) c.error(pt, "duplicate weights tag " + quote(w.tag));
    check_url(c, w.url, child(pt, "url"));
    if (w.sha256.empty() && !is_hub_url(w.url)) {
      c.error(pt, "missing sha256: every weights entry needs a hash or hash prefix (hf:// entries may omit it)");
    }
    const bool full_ok = !w.sha256.is_prefix && w.sha256.hex.size() == 64;
    const bool prefix_ok = w.sha256.is_prefix && w.sha256.hex.size() >= kMinPrefixLength &&
                           w.sha256.hex.size() < 64;
    if (!w.sha256.empty() && (!is_lower_hex(w.sha256.hex) || !(full_ok || prefix_ok))) {
      c.error(child(pt, w.sha256.is_prefix ? "sha256_prefix" : "sha256"),
              w.sha256.is_prefix ? "expected " + std::to_string(kMinPrefixLength) +
                                       " to 63 lowercase hex characters, got " + quote(w.sha256.hex)
                                 : "expected 64 lowercase hex characters, got " + quote(w.sha256.hex));
    }
    if (w.size && *w.size == 0) c.error(child(pt, "size"), "expected a positive integer, got 0");
    if (!w.hash_confidence.empty()) {
      confidence(c, w.hash_confidence, child(pt, "hash_confidence"));
      if (w.sha256.is_prefix) c.error(child(pt, "hash_confidence"), "a confidence describes a full \"sha256\", not a prefix");
    }
    if (!w.size_confidence.empty()) {
      confidence(c, w.size_confidence, child(pt, "size_confidence"));
      if (!w.size) c.error(child(pt, "size_confidence"), "a confidence describes a \"size\", and there is none");
    }
    if (w.file_name.empty()) w.file_name = url_basename(w.url);
    if (!is_safe_file_name(w.file_name)) {
      c.error(child(pt, "file_name"), "unsafe file name " + quote(w.file_name) +
                                          ": " + kNameRule);
    }
    // Re-check transforms and meta through the document rules.
    const Transforms& t = w.transforms;
    json jt = {{"resize_size", t.resize_size}, {"crop_size", t.crop_size},
               {"interpolation", t.interpolation}, {"mean", t.mean}, {"std", t.std},
               {"value_scale", t.value_scale}, {"channel_order", t.channel_order}};
    parse_transforms(c, jt, child(pt, "transforms"));
    check_meta(c, w.meta, child(pt, "meta"));
  }
  if (entry.default_tag.empty()) entry.default_tag = entry.weights.front().tag;
  if (!seen.count(entry.default_tag)) {
    c.error(child(p, "default"), "default tag " + quote(entry.default_tag) +
                                     " is not among the weights tags (" + join(entry.tags()) + ")");
  }
}

}  // namespace modelzoo::registry::detail
