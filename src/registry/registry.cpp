// The Registry: layering documents (built-in < MODELZOO_REGISTRY files <
// per-call entries), lookups with suggestions, and the small name helpers.
#include "modelzoo/registry/registry.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

#include "modelzoo/env.h"
#include "modelzoo/error.h"
#include "registry/embedded.h"
#include "registry/parse.h"

namespace modelzoo::registry {

using detail::child;
using detail::join;
using detail::quote;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Optimal string alignment distance (a transposition counts as one edit).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += quote(names[i]);
  }
  return out;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw RegistryError("cannot read registry file " + quote(file.string()) + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    throw RegistryError("cannot read registry file " + quote(file.string()) + ": read error");
  }
  return ss.str();
}

}  // namespace

bool HashSpec::matches(const std::string& full_hex) const {
  if (hex.empty() || full_hex.size() != 64) return false;
  const std::string actual = lower(full_hex);
  if (actual.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  const std::string expected = lower(hex);
  return is_prefix ? actual.compare(0, expected.size(), expected) == 0 : actual == expected;
}

std::string name_hash_prefix(const std::string& file_name) {
  // torch.hub's HASH_REGEX `-([a-f0-9]*)\.`, first match.
  static const std::regex re("-([a-f0-9]*)\\.");
  std::smatch m;
  return std::regex_search(file_name, m, re) ? m[1].str() : std::string();
}

std::string pinned_value_advice(const std::string& model, const WeightsEntry& w, const std::string& actual_sha256) {
  const bool single_hash = w.hash_confidence == "single_source";
  const bool single_size = w.size_confidence == "single_source";
  if (!single_hash && !single_size) return "";
  std::string what = single_hash && single_size ? "sha256 and size"
                     : single_hash              ? "sha256"
                                                : "size";
  std::string out = " The registry's " + what + " for " + model + ":" + w.tag +
                    (single_hash && single_size ? " each rest" : " rests") +
                    " on a single public source (\"" + (single_hash ? "hash" : "size") +
                    "_confidence\": \"single_source\" in " + "the registry), so the pinned value may be wrong.";
  const std::string prefix = name_hash_prefix(w.file_name);
  const std::string actual = lower(actual_sha256);
  if (!actual.empty() && !prefix.empty()) {
    out += actual.compare(0, prefix.size(), prefix) == 0
               ? " The file does match the hash prefix in its name (" + prefix + ")."
               : " The file does not match the hash prefix in its name (" + prefix + ") either.";
  }
  const std::string hex = actual.size() == 64 ? actual : std::string("<sha256 of the file>");
  out += " It was refused all the same. To accept it after checking it yourself, pin its hash: "
         "`classify --model " + model + " --weights " + w.url + " --sha256 " + hex + "` (Weights::url(url, \"" +
         hex + "\") in C++), or a user registry (MODELZOO_REGISTRY or --registry) with {\"format_version\": 1, "
         "\"models\": {\"" + model + "\": {\"weights\": {\"" + w.tag + "\": {\"sha256\": \"" + hex +
         "\"}}}}}, which keeps the rest of the entry.";
  return out;
}

std::string explain_mismatch(const std::string& model, const WeightsEntry& w, const std::string& message) {
  static const std::regex digest_re("(?:got|hashes to) ([0-9a-fA-F]{64})");
  std::smatch m;
  const std::string actual = std::regex_search(message, m, digest_re) ? m[1].str() : std::string();
  return message + pinned_value_advice(model, w, actual);
}

std::vector<std::filesystem::path> files_defining(const std::string& model, const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() != ".json" || !it->is_regular_file(ec)) continue;
    try {
      const auto doc = nlohmann::json::parse(read_file(p));
      if (doc.is_object() && doc.contains("models") && doc["models"].is_object() && doc["models"].contains(model)) {
        out.push_back(p);
      }
    } catch (const std::exception&) {
      continue;  // not a registry document: it defines nothing
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_safe_file_name(const std::string& name) {
  constexpr std::size_t kMaxFileName = 255;  // NAME_MAX of common file systems
  if (name.empty() || name.size() > kMaxFileName || name == "." || name.find("..") != std::string::npos) {
    return false;
  }
  for (unsigned char c : name) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool is_safe_name(const std::string& name) { return is_safe_file_name(name); }

std::vector<std::string> suggest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       std::size_t max) {
  const std::string key = lower(name);
  const std::size_t threshold = std::max<std::size_t>(2, key.size() / 3);
  std::string key_sorted = key;
  std::sort(key_sorted.begin(), key_sorted.end());
  // (distance, not an anagram of `name`, candidate): among equally distant
  // names, a permutation of the same letters is the likelier typo.
  std::vector<std::tuple<std::size_t, bool, std::string>> close;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    const std::string lc = lower(c);
    const std::size_t d = edit_distance(key, lc);
    if (d <= threshold && d < std::max(key.size(), lc.size())) {
      std::string sorted = lc;
      std::sort(sorted.begin(), sorted.end());
      close.emplace_back(d, sorted != key_sorted, c);
    } else if (!key.empty() && (lc.rfind(key, 0) == 0 || key.rfind(lc, 0) == 0)) {
      prefixed.push_back(c);
    }
  }
  std::sort(close.begin(), close.end());
  std::sort(prefixed.begin(), prefixed.end());
  std::vector<std::string> out;
  for (const auto& c : close) {
    if (out.size() < max) out.push_back(std::get<2>(c));
  }
  for (const auto& c : prefixed) {
    if (out.size() < max) out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------
// ModelEntry

const WeightsEntry* ModelEntry::find_weights(const std::string& tag) const {
  const std::string& wanted = tag == "DEFAULT" ? default_tag : tag;
  for (const auto& w : weights) {
    if (w.tag == wanted) return &w;
  }
  return nullptr;
}

const WeightsEntry& ModelEntry::require_weights(const std::string& tag) const {
  if (const WeightsEntry* w = find_weights(tag)) return *w;
  std::string msg = "model " + quote(name) + " has no weights " + quote(tag);
  auto close = suggest_names(tag, tags());
  if (!close.empty()) msg += "; did you mean " + quoted_list(close) + "?";
  std::vector<std::string> known;
  for (const auto& t : tags()) known.push_back(t == default_tag ? t + " (default)" : t);
  msg += known.empty() ? "; it has no weights entries" : "; known tags: " + join(known) + ", DEFAULT";
  if (!origin.empty()) msg += " (defined in " + origin + ")";
  throw RegistryError(msg);
}

std::vector<std::string> ModelEntry::tags() const {
  std::vector<std::string> out;
  out.reserve(weights.size());
  for (const auto& w : weights) out.push_back(w.tag);
  return out;
}

// ---------------------------------------------------------------------------
// Registry

Registry Registry::builtin() {
  static const Registry cached = [] {
    auto files = detail::embedded_registry_files();
    // The shared category tables first, so every other file can refer to them.
    std::stable_sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return std::strcmp(a.name, "categories.json") == 0 && std::strcmp(b.name, "categories.json") != 0;
    });
    Registry r;
    for (const auto& f : files) r.add_json(f.text, std::string("built-in registry/") + f.name);
    return r;
  }();
  return cached;
}

Registry Registry::with_files(const std::vector<std::filesystem::path>& files) {
  Registry r = builtin();
  for (const auto& f : files) r.add_file(f);
  return r;
}

Registry Registry::from_env() {
  const auto value = env::get("MODELZOO_REGISTRY");
  std::vector<std::filesystem::path> files;
  for (const auto& piece : env::split(value.value_or(""), ':')) files.emplace_back(piece);
  try {
    return with_files(files);
  } catch (const RegistryError& e) {
    if (files.empty()) throw;
    throw RegistryError(std::string(e.what()) + " (registry files from MODELZOO_REGISTRY=" +
                        quote(*value) + ")");
  }
}

void Registry::add_file(const std::filesystem::path& file) { add_json(read_file(file), file.string()); }

std::vector<std::string> Registry::add_json(const std::string& text, const std::string& origin) {
  detail::ParsedDocument doc =
      detail::parse_document(text, origin, categories_, [this](const std::string& model, const std::string& tag) {
        const ModelEntry* m = find(model);
        if (m == nullptr) return static_cast<const WeightsEntry*>(nullptr);
        for (const auto& w : m->weights) {
          if (w.tag == tag) return &w;
        }
        return static_cast<const WeightsEntry*>(nullptr);
      });

  // Merge into copies first; nothing is committed until every model passed.
  std::vector<ModelEntry> staged;
  staged.reserve(doc.models.size());
  for (auto& pm : doc.models) {
    const std::string& name = pm.entry.name;
    const std::string p = child("/models", name);
    const ModelEntry* base = find(name);
    ModelEntry merged;
    if (base != nullptr) {
      merged = *base;
    } else {
      if (!pm.has_weights) {
        detail::fail(origin, p,
                     "missing required field \"weights\" (" + quote(name) +
                         " is not defined by the built-in registry or an earlier file)");
      }
      if (pm.entry.weights.empty()) {
        detail::fail(origin, child(p, "weights"),
                     "expected at least one weights entry for a new model, got an empty object");
      }
      merged.name = name;
      merged.arch = name;
    }
    if (pm.has_arch) merged.arch = pm.entry.arch;
    if (pm.has_task) merged.task = pm.entry.task;
    for (auto& w : pm.entry.weights) {
      auto it = std::find_if(merged.weights.begin(), merged.weights.end(),
                             [&w](const WeightsEntry& e) { return e.tag == w.tag; });
      if (it != merged.weights.end()) {
        *it = std::move(w);
      } else {
        merged.weights.push_back(std::move(w));
      }
    }
    if (pm.has_default) {
      if (merged.find_weights(pm.entry.default_tag) == nullptr || pm.entry.default_tag == "DEFAULT") {
        std::string msg = "default tag " + quote(pm.entry.default_tag) + " is not among the weights tags (" +
                          join(merged.tags()) + ")";
        auto close = suggest_names(pm.entry.default_tag, merged.tags(), 1);
        if (!close.empty()) msg += "; did you mean " + quote(close.front()) + "?";
        detail::fail(origin, child(p, "default"), msg);
      }
      merged.default_tag = pm.entry.default_tag;
    } else if (base == nullptr) {
      merged.default_tag = merged.weights.front().tag;
    }
    merged.origin = origin;
    staged.push_back(std::move(merged));
  }

  std::vector<std::string> defined;
  for (auto& table : doc.categories) categories_[table.first] = std::move(table.second);
  for (auto& m : staged) {
    defined.push_back(m.name);
    std::string key = m.name;
    models_[key] = std::move(m);
  }
  return defined;
}

void Registry::add_entry(ModelEntry entry) {
  if (entry.origin.empty()) entry.origin = "entry " + quote(entry.name);
  detail::validate_entry(entry, entry.origin);
  std::string key = entry.name;
  models_[key] = std::move(entry);
}

const ModelEntry* Registry::find(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

const ModelEntry& Registry::require(const std::string& name) const {
  if (const ModelEntry* m = find(name)) return *m;
  std::string msg = "unknown model " + quote(name);
  auto close = suggest_names(name, names());
  if (!close.empty()) msg += "; did you mean " + quoted_list(close) + "?";
  msg += models_.empty() ? " (the registry is empty)"
                         : " (" + std::to_string(models_.size()) + " models are registered)";
  throw RegistryError(msg);
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  out.reserve(models_.size());
  for (const auto& m : models_) out.push_back(m.first);
  return out;
}

const std::vector<std::string>* Registry::find_categories(const std::string& name) const {
  auto it = categories_.find(name);
  return it == categories_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::category_table_names() const {
  std::vector<std::string> out;
  for (const auto& t : categories_) out.push_back(t.first);
  return out;
}

std::vector<ModelEntry> parse_registry(const std::string& text, const std::string& origin) {
  Registry r = Registry::builtin();
  std::vector<ModelEntry> out;
  for (const auto& name : r.add_json(text, origin)) out.push_back(r.require(name));
  return out;
}

}  // namespace modelzoo::registry
