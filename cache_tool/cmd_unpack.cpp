// `unpack`: a bundle into the cache. Nothing is written until the archive's
// structure, its manifest and the registry agree; every file is then staged
// and verified beside its cache name, and only when all of them verified are
// they renamed into place. Members are only ever written to
// Cache::target_path(<manifest name>), never to a path taken from the archive.
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "bundle.h"
#include "commands.h"
#include "hub.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/cache/publish.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "tar.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using mz::FormatError;

struct UnpackOptions {
  std::string bundle;
  std::string registry_out;
};

bool has_dotdot_component(const std::string& name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") return true;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return false;
}

/// "hub/<folder>/<name>": the shape of a Hub blob member (the manifest must list it exactly).
bool is_hub_member(const std::string& name) {
  if (name.rfind("hub/models--", 0) != 0) return false;
  const auto slash = name.find('/', 4);
  return slash != std::string::npos && slash + 1 < name.size() && name.find('/', slash + 1) == std::string::npos;
}

/// Refuses members that are not plain regular files with plain names.
void check_member(const std::string& bundle_name, const tar::Member& m) {
  const std::string what = bundle_name + ": member \"" + m.name + "\" (header at byte " +
                           std::to_string(m.header_offset) + ")";
  if (m.type == '1' || m.type == '2') {
    throw FormatError(what + " is a " + tar::type_name(m.type) + " to \"" + m.link +
                      "\"; a bundle holds only regular files. Nothing was written");
  }
  if (m.type != '0' && m.type != '\0' && m.type != '7') {
    throw FormatError(what + " is a " + tar::type_name(m.type) +
                      "; a bundle holds only regular files. Nothing was written");
  }
  if (m.name.empty()) throw FormatError(what + " has an empty name. Nothing was written");
  if (m.name[0] == '/') {
    throw FormatError(what + " has an absolute path; bundle members are plain file names. Nothing was written");
  }
  if (has_dotdot_component(m.name)) {
    throw FormatError(what + " has a \"..\" path component; bundle members are plain file names. "
                             "Nothing was written");
  }
  if (m.name.find('/') != std::string::npos && !is_hub_member(m.name)) {
    throw FormatError(what + " is in a subdirectory; bundle members are plain file names (Hub blobs: "
                             "hub/models--ORG--NAME/<etag>). Nothing was written");
  }
}

/// Free bytes where the cache root is (or would be created).
std::optional<uint64_t> free_bytes(fs::path dir) {
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec)) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0) return std::nullopt;
  return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
}

/// Checks that the bundle's own registry does not redefine what this machine
/// already has differently.
void check_fragment(const Context& ctx, const json& fragment, const std::string& origin) {
  for (const auto& m : mz::registry::parse_registry(fragment.dump(), origin)) {
    const auto* mine = ctx.registry.find(m.name);
    if (mine == nullptr) continue;
    for (const auto& w : m.weights) {
      const auto* here = mine->find_weights(w.tag);
      if (here == nullptr) continue;
      if (here->sha256.hex != w.sha256.hex || here->file_name != w.file_name || here->size != w.size) {
        throw mz::RegistryError(origin + ": redefines " + m.name + ":" + w.tag + " as " + w.file_name +
                                " with sha256 " + w.sha256.hex + ", but this machine's registry (" + mine->origin +
                                ") has " + here->file_name + " with sha256 " + here->sha256.hex +
                                "; refusing the bundle. Nothing was written. To accept the sender's entry, "
                                "unpack with the sender's registry file: cache_tool --registry THEIR_REGISTRY.json "
                                "unpack BUNDLE (it then overrides " + m.name + ":" + w.tag +
                                " on this machine too; keep using it with --registry or MODELZOO_REGISTRY)");
      }
    }
  }
}

/// Every use of a manifest file must be a registry entry for exactly that file.
void check_uses(const mz::registry::Registry& reg, const bundle::File& f, const std::string& origin) {
  for (const auto& u : f.uses) {
    const auto* m = reg.find(u.model);
    const auto* w = m ? m->find_weights(u.tag) : nullptr;
    const std::string label = u.model + ":" + u.tag;
    if (w == nullptr) {
      throw mz::RegistryError(origin + ": " + f.name + " is listed for " + label +
                              ", which neither this machine's registry nor the bundle's registry defines "
                              "(add it with --registry FILE). Nothing was written");
    }
    if (w->file_name != f.name) {
      throw mz::RegistryError(origin + ": " + f.name + " is listed for " + label + ", whose cache file is " +
                              w->file_name + ". Nothing was written");
    }
    if (!w->sha256.matches(f.sha256) || (w->size && *w->size != f.size)) {
      throw mz::HashMismatchError(
          origin + ": " + f.name + " for " + label + ": the manifest says sha256 " + f.sha256 + ", " +
          std::to_string(f.size) + " bytes; the registry (" + m->origin + ") expects sha256 " + w->sha256.hex +
          (w->sha256.is_prefix ? " (prefix)" : "") +
          (w->size ? ", " + std::to_string(*w->size) + " bytes" : std::string()) + ". Nothing was written");
    }
  }
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      throw mz::CacheError("cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw mz::CacheError("cannot move " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
}

int run_unpack(Context& ctx, const UnpackOptions& opt) {
  const fs::path bundle_path = opt.bundle;
  const std::string name = bundle_path.filename().string();
  const auto t0 = Clock::now();

  // 1. Structure: every member a plain regular file, listed once, as the manifest says.
  const tar::Index idx = tar::read_index(bundle_path);
  std::map<std::string, const tar::Member*> members;
  for (const auto& m : idx.members) {
    check_member(name, m);
    if (!members.emplace(m.name, &m).second) {
      throw FormatError(name + ": member \"" + m.name + "\" appears more than once (again at byte " +
                        std::to_string(m.header_offset) + "). Nothing was written");
    }
  }
  auto manifest_it = members.find(bundle::kManifestName);
  if (manifest_it == members.end()) {
    throw FormatError(name + ": no " + std::string(bundle::kManifestName) +
                      " member; not a bundle written by cache_tool pack. Nothing was written");
  }
  if (manifest_it->second->size > bundle::kMaxManifestBytes) {
    throw FormatError(name + ": oversized member " + bundle::kManifestName + ": " +
                      std::to_string(manifest_it->second->size) + " bytes (at most " +
                      std::to_string(bundle::kMaxManifestBytes) + " accepted). Nothing was written");
  }
  const std::string origin = name + ":" + bundle::kManifestName;
  const bundle::Manifest manifest =
      bundle::parse_manifest(tar::read_member(bundle_path, *manifest_it->second), origin);
  std::map<std::string, uint64_t> listed;  // member name -> size
  for (const auto& f : manifest.files) listed[f.name] = f.size;
  for (const auto& h : manifest.hub) {
    for (const auto& b : h.blobs) listed[bundle::hub_member_name(h.repo, b.etag)] = b.size;
  }
  for (const auto& [member_name, m] : members) {
    if (member_name == bundle::kManifestName) continue;
    auto it = listed.find(member_name);
    if (it == listed.end()) {
      throw FormatError(name + ": member \"" + member_name + "\" is not listed in " + bundle::kManifestName +
                        ". Nothing was written");
    }
    if (m->size != it->second) {
      throw FormatError(name + ": " + (m->size > it->second ? "oversized member \"" : "member \"") +
                        member_name + "\": " + std::to_string(m->size) + " bytes in the archive, " +
                        std::to_string(it->second) + " in the manifest. Nothing was written");
    }
  }
  for (const auto& [member_name, size] : listed) {
    if (!members.count(member_name)) {
      throw FormatError(origin + ": lists " + member_name + ", which the bundle does not contain (truncated or "
                        "tampered with). Nothing was written");
    }
  }

  // 2. The registry: this machine's, plus the bundle's fragment where it adds entries.
  mz::registry::Registry effective = ctx.registry;
  if (!manifest.registry.is_null()) {
    const std::string reg_origin = origin + " /registry";
    check_fragment(ctx, manifest.registry, reg_origin);
    effective.add_json(manifest.registry.dump(), reg_origin);
  }
  for (const auto& f : manifest.files) {
    check_uses(effective, f, origin);
    ctx.cache.target_path(f.name);  // refuses unsafe names before anything is written
  }

  // 3. Stage and verify every file that is not already there.
  struct Planned {
    const bundle::File* file;
    mz::cache::Expectation expect;
    bool present = false;
    fs::path path;
  };
  std::vector<Planned> plan;
  uint64_t to_write = 0;
  for (const auto& f : manifest.files) {
    Planned p{&f, {}, false, {}};
    p.expect.sha256 = f.sha256;
    p.expect.size = f.size;
    const auto look = ctx.cache.find(f.name, p.expect, /*verify_unstamped=*/true);
    p.present = look.state == mz::cache::EntryState::Verified;
    p.path = p.present ? look.path : ctx.cache.target_path(f.name);
    if (!p.present) to_write += f.size;
    plan.push_back(std::move(p));
  }
  if (auto avail = free_bytes(ctx.cache.options().root); avail && *avail < to_write) {
    throw mz::CacheError(name + ": needs " + human_size(to_write) + " in " + ctx.cache.options().root.string() +
                         ", only " + human_size(*avail) + " are free. Nothing was written");
  }
  // The Hub's blobs: those the writable Hub cache lacks (or holds damaged) are staged.
  const auto hf = hub_cache(ctx);
  struct PlannedBlob {
    const bundle::HubRepo* repo;
    const bundle::HubBlob* blob;
    bool present = false;
  };
  std::vector<PlannedBlob> hub_plan;
  uint64_t hub_bytes = 0;
  for (const auto& h : manifest.hub) {
    for (const auto& b : h.blobs) {
      PlannedBlob p{&h, &b, false};
      const fs::path blob = hf.blob_path(h.repo, b.etag);
      std::error_code ec;
      if (fs::is_regular_file(blob, ec) && fs::file_size(blob, ec) == b.size) {
        const auto check = hf.check_blob(h.repo, b.etag, blob);
        p.present = check == mz::cache::BlobCheck::Verified ||
                    (check == mz::cache::BlobCheck::Unchecked && mz::cache::sha256_file(blob) == b.sha256);
      }
      if (!p.present) hub_bytes += b.size;
      hub_plan.push_back(p);
    }
  }
  if (auto avail = free_bytes(hf.root()); hub_bytes > 0 && avail && *avail < hub_bytes) {
    throw mz::CacheError(name + ": needs " + human_size(hub_bytes) + " in the Hub cache " + hf.root().string() +
                         ", only " + human_size(*avail) + " are free. Nothing was written");
  }
  std::vector<mz::cache::StagedFile> staged(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].present) continue;
    const auto& f = *plan[i].file;
    staged[i] = mz::cache::stage_verified(ctx.cache, f.name, plan[i].expect,
                                          tar::member_source(bundle_path, *members.at(f.name)),
                                          f.name + " from " + name);
  }
  std::vector<mz::cache::HfStagedBlob> hub_staged(hub_plan.size());
  for (std::size_t i = 0; i < hub_plan.size(); ++i) {
    if (hub_plan[i].present) continue;
    const auto& h = *hub_plan[i].repo;
    const auto& b = *hub_plan[i].blob;
    mz::cache::Expectation expect;
    expect.sha256 = b.sha256;
    expect.size = b.size;
    const std::string member = bundle::hub_member_name(h.repo, b.etag);
    hub_staged[i] = hf.stage_blob(h.repo, b.etag, expect, tar::member_source(bundle_path, *members.at(member)),
                                  member + " from " + name);
  }

  // 4. Everything verified: publish.
  json files = json::array();
  uint64_t written = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& f = *plan[i].file;
    if (!plan[i].present) {
      plan[i].path = staged[i].publish();
      written += f.size;
    }
    json uses = json::array();
    for (const auto& u : f.uses) uses.push_back({{"model", u.model}, {"tag", u.tag}});
    files.push_back({{"name", f.name},
                     {"size", f.size},
                     {"sha256", f.sha256},
                     {"status", plan[i].present ? "present" : "unpacked"},
                     {"path", plan[i].path.string()},
                     {"entries", uses}});
    ctx.say((plan[i].present ? "present  " : "unpacked ") + f.name + " -> " + plan[i].path.string());
  }

  // Hub blobs, then the snapshot links and refs that make them files of their revisions.
  json hub = json::array();
  std::size_t hub_files = 0;
  for (std::size_t i = 0; i < hub_plan.size(); ++i) {
    if (!hub_plan[i].present) {
      hub_staged[i].publish();
      written += hub_plan[i].blob->size;
    }
  }
  for (const auto& h : manifest.hub) {
    json blobs = json::array(), snaps = json::array();
    for (const auto& p : hub_plan) {
      if (p.repo != &h) continue;
      blobs.push_back({{"etag", p.blob->etag},
                       {"size", p.blob->size},
                       {"status", p.present ? "present" : "unpacked"},
                       {"path", hf.blob_path(h.repo, p.blob->etag).string()}});
    }
    for (const auto& f : h.snapshots) {
      hf.link(h.repo, f.commit, f.path, f.etag);
      const fs::path pointer = hf.pointer_path(h.repo, f.commit, f.path);
      snaps.push_back({{"commit", f.commit}, {"path", f.path}, {"pointer", pointer.string()}});
      ctx.say("unpacked hf://" + h.repo + "@" + f.commit + "/" + f.path + " -> " + pointer.string());
      ++hub_files;
    }
    for (const auto& [ref, commit] : h.refs) hf.write_ref(h.repo, ref, commit);
    hub.push_back({{"repo", h.repo}, {"blobs", blobs}, {"snapshots", snaps}, {"refs", h.refs}});
  }

  json registry_file = nullptr;
  if (!manifest.registry.is_null()) {
    fs::path out = opt.registry_out;
    if (out.empty()) {
      out = ctx.cache.options().root / "bundle-registries" / (bundle_path.stem().string() + ".json");
    }
    write_text_atomically(out, manifest.registry.dump(2) + "\n");
    registry_file = fs::absolute(out).string();
    ctx.say("registry entries from the bundle: " + out.string() +
            " (use it with --registry or add it to MODELZOO_REGISTRY)");
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ctx.emit({{"command", "unpack"},
            {"ok", true},
            {"bundle", fs::absolute(bundle_path).string()},
            {"files", files},
            {"hub", hub},
            {"hub_cache_dir", hf.root().string()},
            {"bytes_written", written},
            {"seconds", secs},
            {"registry_file", registry_file}});
  ctx.say(std::to_string(manifest.files.size()) + " file(s) verified, " + human_size(written) + " written to " +
          ctx.cache.options().root.string() +
          (manifest.hub.empty() ? std::string()
                                : "; " + std::to_string(hub_files) + " Hub file(s) in " + hf.root().string()));
  return kOk;
}

}  // namespace

Command add_unpack(CLI::App& root) {
  auto opt = std::make_shared<UnpackOptions>();
  auto* app = root.add_subcommand("unpack", "Verify a bundle made by `pack` and put its files into the cache");
  app->add_option("bundle", opt->bundle, "BUNDLE.tar")->required();
  app->add_option("--registry-out", opt->registry_out,
                  "where to write the bundle's registry entries, if it has any "
                  "(default: <cache>/bundle-registries/<bundle name>.json)");
  app->footer(
      "Refused, with nothing written: links, devices, directories, absolute or '..' paths, duplicate or unlisted\n"
      "members, sizes that differ from the manifest, truncated archives, files that do not hash to the manifest\n"
      "and registry. Files are verified in temporary files and renamed into the cache only when all verified.\n"
      "Hub entries go into the Hub cache (--hf-cache-dir): blobs, snapshot links and refs, as huggingface_hub keeps them.\n"
      "Example: cache_tool --offline --cache-dir /data/torch unpack models.tar");
  return {app, [opt](Context& ctx) { return run_unpack(ctx, *opt); }};
}

}  // namespace cache_tool
