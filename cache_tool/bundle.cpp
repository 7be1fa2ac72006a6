#include "bundle.h"

#include <algorithm>
#include <map>
#include <set>

#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"

namespace cache_tool::bundle {

namespace {

using mz::FormatError;

/// Strict field access for the manifest, naming the JSON path in errors.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw FormatError(origin_ + ": " + (path.empty() ? "/" : path) + ": " + what);
  }
  static std::string kind(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "the number " + v.dump();
    if (v.is_string()) return "the string " + v.dump();
    if (v.is_array()) return "an array";
    return "an object";
  }
  const json& object(const json& v, const std::string& path, const std::set<std::string>& keys) const {
    if (!v.is_object()) fail(path, "expected an object, got " + kind(v));
    for (const auto& item : v.items()) {
      if (!keys.count(item.key())) fail(path + "/" + item.key(), "unknown field (expected one of the documented fields)");
    }
    return v;
  }
  const json& required(const json& obj, const std::string& path, const std::string& key) const {
    if (!obj.contains(key)) fail(path, "missing required field \"" + key + "\"");
    return obj[key];
  }
  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, "expected a string, got " + kind(v));
    return v.get<std::string>();
  }
  uint64_t count(const json& v, const std::string& path) const {
    if (!v.is_number_unsigned()) fail(path, "expected a non-negative integer, got " + kind(v));
    return v.get<uint64_t>();
  }
  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) fail(path, "expected true or false, got " + kind(v));
    return v.get<bool>();
  }

 private:
  std::string origin_;
};

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

json transforms_json(const mz::registry::Transforms& t) {
  return {{"resize_size", t.resize_size},
          {"crop_size", t.crop_size},
          {"interpolation", t.interpolation},
          {"mean", t.mean},
          {"std", t.std},
          {"value_scale", static_cast<int>(t.value_scale)},
          {"channel_order", t.channel_order}};
}

json categories_json(const std::vector<std::string>& categories) {
  if (categories.empty()) return nullptr;
  const auto& builtin = mz::registry::Registry::builtin();
  for (const auto& table : builtin.category_table_names()) {
    const auto* names = builtin.find_categories(table);
    if (names != nullptr && *names == categories) return table;
  }
  return categories;
}

json weights_json(const mz::registry::WeightsEntry& w) {
  json j = {{"url", mz::fetch::sanitize_url(w.url)}};
  j[w.sha256.is_prefix ? "sha256_prefix" : "sha256"] = w.sha256.hex;
  j["size"] = w.size ? json(*w.size) : json(nullptr);
  j["file_name"] = w.file_name;
  j["transforms"] = transforms_json(w.transforms);
  j["categories"] = categories_json(w.categories);
  if (!w.meta.empty()) j["meta"] = w.meta;
  return j;
}

/// `check` (one of hf_cache.h's), its CacheError turned into the manifest's FormatError at `path`.
template <typename F>
void checked(const Reader& r, const std::string& path, F&& check) {
  try {
    check();
  } catch (const mz::CacheError& e) {
    r.fail(path, e.what());
  }
}

std::vector<HubRepo> parse_hub(const Reader& r, const json& hub) {
  if (!hub.is_array()) r.fail("/hub", "expected an array, got " + Reader::kind(hub));
  std::vector<HubRepo> out;
  std::set<std::string> repos;
  for (std::size_t i = 0; i < hub.size(); ++i) {
    const std::string p = "/hub/" + std::to_string(i);
    const json& jh = r.object(hub[i], p, {"repo", "refs", "blobs", "snapshots"});
    HubRepo h;
    h.repo = r.string(r.required(jh, p, "repo"), p + "/repo");
    checked(r, p + "/repo", [&] { mz::cache::check_repo_id(h.repo); });
    if (!repos.insert(h.repo).second) r.fail(p + "/repo", "repository \"" + h.repo + "\" is listed twice");
    std::set<std::string> etags;
    const json& blobs = r.required(jh, p, "blobs");
    if (!blobs.is_array()) r.fail(p + "/blobs", "expected an array, got " + Reader::kind(blobs));
    for (std::size_t k = 0; k < blobs.size(); ++k) {
      const std::string q = p + "/blobs/" + std::to_string(k);
      const json& jb = r.object(blobs[k], q, {"etag", "size", "sha256"});
      HubBlob b;
      b.etag = r.string(r.required(jb, q, "etag"), q + "/etag");
      checked(r, q + "/etag", [&] { mz::cache::check_etag(b.etag); });
      b.size = r.count(r.required(jb, q, "size"), q + "/size");
      b.sha256 = r.string(r.required(jb, q, "sha256"), q + "/sha256");
      if (!is_hex64(b.sha256)) r.fail(q + "/sha256", "expected 64 lowercase hex characters, got \"" + b.sha256 + "\"");
      if (is_hex64(b.etag) && b.etag != b.sha256) {
        r.fail(q + "/sha256", "an LFS blob is named by its SHA-256: expected " + b.etag + ", got " + b.sha256);
      }
      if (!etags.insert(b.etag).second) r.fail(q + "/etag", "blob " + b.etag + " is listed twice");
      h.blobs.push_back(std::move(b));
    }
    const json& snaps = r.required(jh, p, "snapshots");
    if (!snaps.is_array()) r.fail(p + "/snapshots", "expected an array, got " + Reader::kind(snaps));
    std::set<std::string> commits, files;
    for (std::size_t k = 0; k < snaps.size(); ++k) {
      const std::string q = p + "/snapshots/" + std::to_string(k);
      const json& js = r.object(snaps[k], q, {"commit", "path", "etag"});
      HubSnapshotFile f;
      f.commit = r.string(r.required(js, q, "commit"), q + "/commit");
      if (!mz::cache::is_commit_hash(f.commit)) r.fail(q + "/commit", "expected a 40-hex commit id, got \"" + f.commit + "\"");
      f.path = r.string(r.required(js, q, "path"), q + "/path");
      checked(r, q + "/path", [&] { mz::cache::check_repo_path(f.path); });
      f.etag = r.string(r.required(js, q, "etag"), q + "/etag");
      if (!etags.count(f.etag)) r.fail(q + "/etag", "blob " + f.etag + " is not in this repository's blobs");
      if (!files.insert(f.commit + "/" + f.path).second) r.fail(q, "snapshot file listed twice");
      commits.insert(f.commit);
      h.snapshots.push_back(std::move(f));
    }
    if (jh.contains("refs")) {
      const json& refs = jh["refs"];
      if (!refs.is_object()) r.fail(p + "/refs", "expected an object, got " + Reader::kind(refs));
      for (const auto& item : refs.items()) {
        const std::string q = p + "/refs/" + item.key();
        checked(r, q, [&] { mz::cache::check_revision(item.key()); });
        if (mz::cache::is_commit_hash(item.key())) r.fail(q, "a ref name may not be a commit id");
        const std::string c = r.string(item.value(), q);
        if (!commits.count(c)) r.fail(q, "names commit " + c + ", of which no snapshot file is packed");
        h.refs[item.key()] = c;
      }
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace

std::string hub_member_name(const std::string& repo, const std::string& etag) {
  return "hub/" + mz::cache::hf_repo_folder(repo) + "/" + etag;
}

json to_json(const Manifest& m) {
  json files = json::array();
  for (const auto& f : m.files) {
    json uses = json::array();
    for (const auto& u : f.uses) {
      uses.push_back({{"model", u.model}, {"tag", u.tag}, {"default", u.is_default}, {"url", u.url}});
    }
    files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}, {"entries", uses}});
  }
  json doc = {{"format", kFormat},
              {"format_version", kFormatVersion},
              {"created_by", m.created_by},
              {"created", m.created},
              {"files", files},
              {"registry", m.registry}};
  if (!m.hub.empty()) {
    json hub = json::array();
    for (const auto& h : m.hub) {
      json blobs = json::array(), snaps = json::array();
      for (const auto& b : h.blobs) blobs.push_back({{"etag", b.etag}, {"size", b.size}, {"sha256", b.sha256}});
      for (const auto& f : h.snapshots) snaps.push_back({{"commit", f.commit}, {"path", f.path}, {"etag", f.etag}});
      hub.push_back({{"repo", h.repo}, {"refs", h.refs}, {"blobs", blobs}, {"snapshots", snaps}});
    }
    doc["hub"] = hub;
  }
  return doc;
}

Manifest parse_manifest(const std::string& text, const std::string& origin) {
  Reader r(origin);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw FormatError(origin + ": invalid JSON: " + e.what());
  }
  r.object(doc, "", {"format", "format_version", "created_by", "created", "files", "registry", "hub"});
  const std::string format = r.string(r.required(doc, "", "format"), "/format");
  if (format != kFormat) r.fail("/format", std::string("expected \"") + kFormat + "\", got \"" + format + "\"");
  const json& version = r.required(doc, "", "format_version");
  if (!version.is_number_integer() || version.get<int64_t>() != kFormatVersion) {
    r.fail("/format_version", "expected " + std::to_string(kFormatVersion) + ", got " + Reader::kind(version) +
                                  " (a newer cache_tool wrote this bundle?)");
  }
  Manifest m;
  if (doc.contains("created_by")) m.created_by = r.string(doc["created_by"], "/created_by");
  if (doc.contains("created")) m.created = r.string(doc["created"], "/created");
  const json& files = r.required(doc, "", "files");
  if (!files.is_array()) r.fail("/files", "expected an array, got " + Reader::kind(files));
  std::set<std::string> names;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string p = "/files/" + std::to_string(i);
    const json& jf = r.object(files[i], p, {"name", "size", "sha256", "entries"});
    File f;
    f.name = r.string(r.required(jf, p, "name"), p + "/name");
    if (!mz::registry::is_safe_file_name(f.name) || f.name[0] == '.' || mz::cache::is_auxiliary_file(f.name) ||
        f.name == kManifestName) {
      r.fail(p + "/name", "expected a plain cache file name, got \"" + f.name + "\"");
    }
    if (!names.insert(f.name).second) r.fail(p + "/name", "file \"" + f.name + "\" is listed twice");
    f.size = r.count(r.required(jf, p, "size"), p + "/size");
    f.sha256 = r.string(r.required(jf, p, "sha256"), p + "/sha256");
    if (!is_hex64(f.sha256)) r.fail(p + "/sha256", "expected 64 lowercase hex characters, got \"" + f.sha256 + "\"");
    const json& uses = r.required(jf, p, "entries");
    if (!uses.is_array() || uses.empty()) r.fail(p + "/entries", "expected a non-empty array of registry entries");
    for (std::size_t k = 0; k < uses.size(); ++k) {
      const std::string q = p + "/entries/" + std::to_string(k);
      const json& ju = r.object(uses[k], q, {"model", "tag", "default", "url"});
      Use u;
      u.model = r.string(r.required(ju, q, "model"), q + "/model");
      u.tag = r.string(r.required(ju, q, "tag"), q + "/tag");
      if (!mz::registry::is_safe_name(u.model)) r.fail(q + "/model", "unsafe model name \"" + u.model + "\"");
      if (!mz::registry::is_safe_name(u.tag)) r.fail(q + "/tag", "unsafe tag \"" + u.tag + "\"");
      if (ju.contains("default")) u.is_default = r.boolean(ju["default"], q + "/default");
      if (ju.contains("url")) u.url = r.string(ju["url"], q + "/url");
      f.uses.push_back(std::move(u));
    }
    m.files.push_back(std::move(f));
  }
  if (doc.contains("hub")) m.hub = parse_hub(r, doc["hub"]);
  if (doc.contains("registry")) {
    m.registry = doc["registry"];
    if (!m.registry.is_null() && !m.registry.is_object()) {
      r.fail("/registry", "expected null or a registry document, got " + Reader::kind(m.registry));
    }
  }
  return m;
}

bool is_builtin(const std::string& model, const mz::registry::WeightsEntry& w) {
  const auto* m = mz::registry::Registry::builtin().find(model);
  if (m == nullptr) return false;
  const auto* b = m->find_weights(w.tag);
  return b != nullptr && b->url == w.url && b->sha256.hex == w.sha256.hex &&
         b->sha256.is_prefix == w.sha256.is_prefix && b->size == w.size && b->file_name == w.file_name;
}

json registry_fragment(const mz::registry::Registry& registry, const std::vector<Target>& targets) {
  std::map<std::string, json> models;
  for (const auto& t : targets) {
    if (is_builtin(t.model, *t.weights)) continue;
    const auto& m = registry.require(t.model);
    json& jm = models[t.model];
    if (jm.is_null()) jm = {{"arch", m.arch}, {"weights", json::object()}};
    jm["weights"][t.weights->tag] = weights_json(*t.weights);
  }
  if (models.empty()) return nullptr;
  json doc = {{"format_version", mz::registry::kFormatVersion},
              {"description", "entries packed by cache_tool from user registries"},
              {"models", json::object()}};
  for (auto& [name, jm] : models) {
    const auto& m = registry.require(name);
    const auto* builtin = mz::registry::Registry::builtin().find(name);
    const bool default_packed = jm["weights"].contains(m.default_tag);
    const bool default_builtin = builtin != nullptr && builtin->find_weights(m.default_tag) != nullptr;
    if (default_packed || default_builtin) jm["default"] = m.default_tag;
    doc["models"][name] = jm;
  }
  mz::registry::parse_registry(doc.dump(), "the registry fragment of the bundle");  // must load on the other side
  return doc;
}

}  // namespace cache_tool::bundle
