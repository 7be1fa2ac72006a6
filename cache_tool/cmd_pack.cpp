// `pack`: cached weights + a manifest into one ustar bundle for another
// machine. Every file is rehashed while it is copied into the bundle.
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>

#include "bundle.h"
#include "commands.h"
#include "hub.h"
#include "interrupt.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/cache/publish.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/fetch/hf.h"
#include "tar.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct PackOptions {
  std::vector<std::string> specs;
  bool all = false;
  std::string output;
};

/// A file to pack and where it is.
struct Source {
  bundle::File file;
  fs::path path;
};

/// What goes into the bundle from the Hub's cache: per repository, the
/// blobs (with where they are) and the snapshot files.
class HubPacking {
 public:
  /// Adds the snapshot files `spec` names (first Hub cache root that has
  /// any); false when none has them. Throws CacheError for a broken link or a
  /// blob whose SHA-256 is not its name.
  bool add(const Context& ctx, const HubSpec& spec) {
    for (const auto& [root, ro] : hub_roots(ctx)) {
      const mz::cache::HfCache hf(root);
      const auto chosen = select(hub_entries(hf), spec);
      if (chosen.empty()) continue;
      for (const auto& e : chosen) add_entry(hf, e);
      return true;
    }
    return false;
  }

  bool empty() const { return repos_.empty(); }
  /// The manifest's `hub` list.
  std::vector<bundle::HubRepo> manifest() const {
    std::vector<bundle::HubRepo> out;
    for (const auto& [name, r] : repos_) out.push_back(r.packed);
    return out;
  }
  /// Every blob to write: member name, path, size and expected SHA-256.
  std::vector<Source> sources() const {
    std::vector<Source> out;
    for (const auto& [name, r] : repos_) {
      for (const auto& b : r.packed.blobs) {
        Source s;
        s.file.name = bundle::hub_member_name(name, b.etag);
        s.file.size = b.size;
        s.file.sha256 = b.sha256;
        s.path = r.paths.at(b.etag);
        out.push_back(std::move(s));
      }
    }
    return out;
  }

 private:
  struct Repo {
    bundle::HubRepo packed;
    std::map<std::string, fs::path> paths;  // etag -> blob
  };

  void add_entry(const mz::cache::HfCache& hf, const HubEntry& e) {
    if (e.broken || e.etag.empty()) {
      throw mz::CacheError("pack: " + e.uri() + ": the snapshot entry " + e.pointer.string() +
                           " points at no blob (run `cache_tool verify --repair`). No bundle was written");
    }
    Repo& r = repos_[e.repo];
    r.packed.repo = e.repo;
    for (const auto& f : r.packed.snapshots) {
      if (f.commit == e.commit && f.path == e.path) return;
    }
    r.packed.snapshots.push_back({e.commit, e.path, e.etag});
    for (const auto& ref : e.refs) r.packed.refs[ref] = e.commit;
    if (r.paths.count(e.etag)) return;
    const fs::path blob = hf.blob_path(e.repo, e.etag);
    bundle::HubBlob b;
    b.etag = e.etag;
    std::error_code ec;
    b.size = fs::file_size(blob, ec);
    if (ec) throw mz::CacheError("cannot stat " + blob.string() + ": " + ec.message());
    if (hf.check_blob(e.repo, e.etag, blob) == mz::cache::BlobCheck::Mismatch) {
      throw mz::HashMismatchError("pack: " + blob.string() + " (" + e.uri() + ") does not hash to its name " + e.etag +
                                  "; run `cache_tool verify --repair`. No bundle was written");
    }
    // A blob kept in git is named by its git id: its SHA-256 is computed for the manifest.
    b.sha256 = e.etag.size() == 64 ? e.etag : mz::cache::sha256_file(blob);
    r.packed.blobs.push_back(b);
    r.paths[e.etag] = blob;
  }

  std::map<std::string, Repo> repos_;
};

int64_t mtime_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

int run_pack(Context& ctx, const PackOptions& opt) {
  if (opt.output.empty()) throw UsageError("pack: expected -o BUNDLE.tar");
  if (opt.all == !opt.specs.empty()) throw UsageError("pack: expected NAME[:TAG]... or --all (one of the two)");

  std::vector<Target> targets;
  HubPacking hub;
  std::vector<std::string> missing;
  if (opt.all) {
    targets = all_targets(ctx.registry, /*default_tags_only=*/false);
  } else {
    for (const auto& s : opt.specs) {
      if (mz::fetch::is_hub_uri(s)) {
        if (!hub.add(ctx, HubSpec::parse(s))) missing.push_back(s + " (absent from the Hub cache)");
        continue;
      }
      auto more = resolve(ctx, Spec::parse(s));
      targets.insert(targets.end(), more.begin(), more.end());
    }
  }

  // Find each verified file (rehashing unstamped ones); group entries by file.
  std::vector<Source> sources;
  std::map<std::string, std::size_t> by_name;
  std::vector<Target> packed;
  for (const auto& t : targets) {
    const auto& w = *t.weights;
    if (mz::fetch::is_hub_uri(w.url)) {
      if (hub.add(ctx, hub_spec_of(t))) {
        packed.push_back(t);
      } else if (!opt.all) {
        missing.push_back(t.label() + " (absent from the Hub cache)");
      }
      continue;
    }
    const auto look = ctx.cache.find(w.file_name, expectation(w), /*verify_unstamped=*/true);
    if (look.state != mz::cache::EntryState::Verified) {
      if (!opt.all) missing.push_back(t.label() + " (" + lookup_state(look) + ")");
      continue;
    }
    auto it = by_name.find(w.file_name);
    if (it == by_name.end()) {
      Source s;
      s.file.name = w.file_name;
      s.file.sha256 = look.sha256;
      std::error_code ec;
      s.file.size = fs::file_size(look.path, ec);
      if (ec) throw mz::CacheError("cannot stat " + look.path.string() + ": " + ec.message());
      s.path = look.path;
      it = by_name.emplace(w.file_name, sources.size()).first;
      sources.push_back(std::move(s));
    }
    sources[it->second].file.uses.push_back({t.model, w.tag, mz::fetch::sanitize_url(w.url), t.is_default});
    packed.push_back(t);
  }
  if (!missing.empty()) {
    std::string msg = "pack: not in the cache (verified): ";
    for (std::size_t i = 0; i < missing.size(); ++i) msg += (i ? ", " : "") + missing[i];
    msg += "; run `cache_tool fetch` for them first. No bundle was written";
    throw mz::CacheError(msg);
  }
  if (sources.empty() && hub.empty()) {
    throw mz::CacheError("pack --all: no registry entry is in the cache " + ctx.cache.options().root.string() +
                         "; nothing to pack. No bundle was written");
  }

  bundle::Manifest manifest;
  manifest.created_by = std::string("cache_tool ") + MZ_VERSION;
  manifest.created = iso_time(std::time(nullptr));
  for (const auto& s : sources) manifest.files.push_back(s.file);
  manifest.hub = hub.manifest();
  const std::size_t weight_files = sources.size();
  for (auto& s : hub.sources()) sources.push_back(std::move(s));
  manifest.registry = bundle::registry_fragment(ctx.registry, packed);

  const auto t0 = Clock::now();
  // Ctrl-C / SIGTERM while writing: the writer's destructor removes the
  // temporary bundle before the process ends (the guard outlives the writer).
  InterruptGuard interrupts;
  tar::Writer writer(opt.output);
  writer.add_bytes(bundle::kManifestName, bundle::to_json(manifest).dump(2) + "\n", std::time(nullptr));
  uint64_t payload = 0;
  for (const auto& s : sources) {
    mz::cache::Sha256 hasher;
    auto read = mz::cache::file_source(s.path);
    writer.add(s.file.name, s.file.size, mtime_of(s.path), [&](char* buf, std::size_t n) {
      const std::size_t k = read(buf, n);
      hasher.update(buf, k);
      return k;
    });
    const std::string digest = hasher.hex_digest();
    if (digest != s.file.sha256) {
      throw mz::HashMismatchError("pack: " + s.path.string() + " changed since it was verified: its stamp says " +
                                  s.file.sha256 + ", its content hashes to " + digest +
                                  "; run `cache_tool verify --repair`. No bundle was written");
    }
    payload += s.file.size;
    ctx.say("packed   " + s.file.name + " (" + human_size(s.file.size) + ")");
  }
  writer.commit();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  const json doc = bundle::to_json(manifest);
  json files = doc["files"];
  ctx.emit({{"command", "pack"},
            {"ok", true},
            {"bundle", fs::absolute(opt.output).string()},
            {"bytes", writer.bytes_written()},
            {"payload_bytes", payload},
            {"seconds", secs},
            {"files", files},
            {"hub", doc.value("hub", json::array())},
            {"registry_fragment", !manifest.registry.is_null()}});
  std::string line = "wrote " + opt.output + ": " + std::to_string(weight_files) + " file(s)" +
                     (hub.empty() ? std::string() : ", " + std::to_string(sources.size() - weight_files) + " Hub blob(s)") +
                     ", " + human_size(writer.bytes_written());
  if (secs > 0) line += " in " + std::to_string(secs).substr(0, 5) + " s";
  if (!manifest.registry.is_null()) line += "; includes a registry fragment for entries from user registries";
  ctx.say(line);
  return kOk;
}

}  // namespace

Command add_pack(CLI::App& root) {
  auto opt = std::make_shared<PackOptions>();
  auto* app = root.add_subcommand(
      "pack", "Put cached weights and a manifest into one tar bundle (for machines without network)");
  app->add_option("spec", opt->specs,
                  "NAME[:TAG] (TAG defaults to the default weights; NAME:* = every tag), or from the Hub cache "
                  "hf://ORG/NAME[@REV][/PATH] (blobs, snapshot links and refs)");
  app->add_flag("--all", opt->all, "every registry entry that is in the cache");
  app->add_option("-o,--output", opt->output, "the bundle to write (POSIX ustar)")->required();
  app->footer(
      "The bundle holds manifest.json (names, tags, URLs, sha256, sizes, and a registry fragment for\n"
      "entries from user registries) and the files; every file is rehashed while it is packed.\n"
      "Example: cache_tool pack vgg19 resnet50:IMAGENET1K_V2 -o models.tar\n"
      "Example: cache_tool pack --all -o everything.tar\n"
      "Example: cache_tool pack hf://timm/resnet50.a1_in1k -o timm.tar");
  return {app, [opt](Context& ctx) { return run_pack(ctx, *opt); }};
}

}  // namespace cache_tool
