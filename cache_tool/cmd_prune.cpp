// `rm` and `prune`: removing cached files and cleaning up what interrupted
// downloads, crashed writers and unused weights leave behind, in the torch.hub
// cache and in the Hugging Face Hub's. Only the writable roots are touched;
// read-only caches never are.
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "commands.h"
#include "hub.h"
#include "modelzoo/cache/maintenance.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/hf.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// rm

struct RmOptions {
  std::vector<std::string> specs;
};

/// Removes what a Hub selection names from the writable Hub cache: a file
/// (and its blob when no other snapshot uses it), a revision, or a repository.
json rm_hub(const Context& ctx, const HubSpec& spec, const std::string& label, bool* failed) {
  const auto hf = hub_cache(ctx);
  json r = {{"source", spec.text}, {"repo", spec.repo}, {"path", hf.repo_dir(spec.repo).string()}};
  std::size_t removed = 0;
  if (!spec.path.empty()) {
    const std::string rev = spec.revision.empty() ? "main" : spec.revision;
    removed = hf.remove_file(spec.repo, rev, spec.path);
    r["path"] = (hf.repo_dir(spec.repo) / "snapshots").string();
  } else {
    removed = hf.remove(spec.repo, spec.revision);
  }
  r["files_removed"] = removed;
  if (removed > 0) {
    r["status"] = "removed";
    ctx.say("removed  " + label + " from " + hf.repo_dir(spec.repo).string() + " (" + std::to_string(removed) +
            " file(s))");
    return r;
  }
  bool readonly = false;
  for (const auto& root : hf.readonly_roots()) {
    if (!select(hub_entries(mz::cache::HfCache(root)), spec).empty()) {
      readonly = true;
      r["path"] = (root / mz::cache::hf_repo_folder(spec.repo)).string();
    }
  }
  r["status"] = readonly ? "readonly" : "absent";
  *failed = true;
  ctx.warn(readonly ? "cache_tool rm: " + label + " is only in the read-only Hub cache " + r["path"].get<std::string>() +
                          "; not removed"
                    : "cache_tool rm: " + label + " is not in the Hub cache (" + hf.repo_dir(spec.repo).string() + ")");
  return r;
}

int run_rm(Context& ctx, const RmOptions& opt) {
  json results = json::array();
  bool failed = false;
  std::set<std::string> done;
  for (const auto& s : opt.specs) {
    if (mz::fetch::is_hub_uri(s)) {
      results.push_back(rm_hub(ctx, HubSpec::parse(s), s, &failed));
      continue;
    }
    for (const auto& t : resolve(ctx, Spec::parse(s))) {
      if (mz::fetch::is_hub_uri(t.weights->url)) {
        json r = rm_hub(ctx, hub_spec_of(t), t.label(), &failed);
        r.update({{"model", t.model}, {"tag", t.weights->tag}});
        results.push_back(r);
        continue;
      }
      const std::string& fn = t.weights->file_name;
      json r = {{"model", t.model}, {"tag", t.weights->tag}, {"file_name", fn}};
      const fs::path target = ctx.cache.target_path(fn);
      r["path"] = target.string();
      if (!done.insert(fn).second) {
        r["status"] = "removed";  // same file as an earlier spec
        results.push_back(r);
        continue;
      }
      std::error_code ec;
      const bool had_partial = fs::exists(target.string() + ".part", ec);
      if (ctx.cache.remove(fn)) {
        r["status"] = "removed";
        ctx.say("removed  " + target.string() + " (" + t.label() + ")");
      } else if (had_partial) {
        r["status"] = "removed";
        ctx.say("removed  " + target.string() + ".part (" + t.label() + ", an interrupted download)");
      } else {
        bool readonly = false;
        for (const auto& root : ctx.cache.options().readonly_roots) {
          if (fs::exists(root / fn, ec)) {
            readonly = true;
            r["path"] = (root / fn).string();
          }
        }
        r["status"] = readonly ? "readonly" : "absent";
        failed = true;
        ctx.warn(readonly ? "cache_tool rm: " + t.label() + " is only in the read-only cache " +
                                r["path"].get<std::string>() + "; not removed"
                          : "cache_tool rm: " + t.label() + " is not in the cache (" + target.string() + ")");
      }
      results.push_back(r);
    }
  }
  ctx.emit({{"command", "rm"}, {"ok", !failed}, {"results", results}});
  return failed ? kFailure : kOk;
}

// ---------------------------------------------------------------------------
// prune

struct PruneOptions {
  bool partials = false;
  bool stale_locks = false;
  bool unknown = false;
  bool unreferenced = false;
  std::string older_than;
  std::string max_size;
  bool dry_run = false;
};

/// A finished file in the writable root.
struct Cached {
  std::string name;
  fs::path path;
  uint64_t size = 0;
  int64_t last_used = 0;  // max(atime, mtime), seconds
  bool gone = false;
};

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

class Pruner {
 public:
  Pruner(const Context& ctx, bool dry_run) : ctx_(ctx), dry_(dry_run) {}

  void removed(const fs::path& p, const std::string& kind, const std::string& reason, uint64_t bytes) {
    removed_.push_back({{"path", p.string()}, {"kind", kind}, {"reason", reason}, {"bytes", bytes}});
    freed_ += bytes;
    ctx_.say((dry_ ? "would remove " : "removed  ") + p.string() + " (" + reason + ", " + human_size(bytes) + ")");
  }
  void kept(const fs::path& p, const std::string& kind, const std::string& reason) {
    kept_.push_back({{"path", p.string()}, {"kind", kind}, {"reason", reason}});
    ctx_.say("kept     " + p.string() + ": " + reason);
  }

  /// Removes a finished file with its stamp and partial leftovers.
  void remove_cached(Cached& c, const std::string& reason) {
    if (c.gone) return;
    if (!dry_) ctx_.cache.remove(c.name);
    c.gone = true;
    removed(c.path, "file", reason, c.size);
  }

  /// Partial downloads (unless in progress), abandoned temporaries, orphaned stamps.
  void partials(const std::vector<Cached>& cached) {
    std::set<std::string> present;
    for (const auto& c : cached) present.insert(c.name);
    const int64_t now = now_ns();
    std::set<std::string> partial_entries;
    for (const auto& f : mz::cache::list_side_files(ctx_.cache)) {
      switch (f.kind) {
        case mz::cache::SideKind::Partial:
        case mz::cache::SideKind::PartialMeta: {
          if (!partial_entries.insert(f.entry).second) break;  // .part and .part.meta go together
          const fs::path target = ctx_.cache.options().root / f.entry;
          uint64_t bytes = 0;
          std::error_code ec;
          for (const char* suffix : {".part", ".part.meta"}) {
            const auto n = fs::file_size(target.string() + suffix, ec);
            if (!ec) bytes += n;
          }
          bool free = true;
          if (dry_) {
            free = mz::cache::TryEntryLock(target, /*create=*/false).acquired();
          } else {
            free = mz::cache::remove_partial(ctx_.cache, f.entry);
          }
          if (free) removed(target.string() + ".part", "partial", "interrupted download", bytes);
          else kept(target.string() + ".part", "partial", "a download is in progress (its lock is held)");
          break;
        }
        case mz::cache::SideKind::Temporary:
          if (mz::cache::is_abandoned_temporary(f, now)) {
            std::error_code ec;
            if (!dry_) fs::remove(f.path, ec);
            removed(f.path, "temporary", "left behind by a process that is gone", f.size);
          }
          break;
        case mz::cache::SideKind::Stamp:
          if (!present.count(f.entry)) {
            std::error_code ec;
            if (!dry_) fs::remove(f.path, ec);
            removed(f.path, "stamp", "stamp of a file that is gone", f.size);
          }
          break;
        case mz::cache::SideKind::Lock:
          break;
      }
    }
  }

  void stale_locks() {
    for (const auto& f : mz::cache::list_side_files(ctx_.cache)) {
      if (f.kind != mz::cache::SideKind::Lock) continue;
      const fs::path target = ctx_.cache.options().root / f.entry;
      const bool free = dry_ ? mz::cache::TryEntryLock(target, /*create=*/false).acquired()
                             : mz::cache::remove_stale_lock(ctx_.cache, f.entry);
      if (free) removed(f.path, "lock", "lock file nobody holds", f.size);
      else kept(f.path, "lock", "held by a running process");
    }
  }

  /// One kind of Hub cache leftovers: `remove(dry_run)` lists (and unless
  /// dry, removes) them; sizes are taken before anything goes.
  void hub(const std::function<std::vector<fs::path>(bool)>& remove, const std::string& kind,
           const std::string& reason) {
    std::map<fs::path, uint64_t> sizes;
    for (const auto& p : remove(true)) {
      std::error_code ec;
      const auto n = fs::file_size(p, ec);
      sizes[p] = ec ? 0 : n;
    }
    if (sizes.empty()) return;
    for (const auto& p : dry_ ? remove(true) : remove(false)) removed(p, kind, reason, sizes.count(p) ? sizes[p] : 0);
  }

  json report(uint64_t size_after) const {
    return {{"command", "prune"},
            {"ok", true},
            {"dry_run", dry_},
            {"removed", removed_},
            {"kept", kept_},
            {"summary", {{"removed", removed_.size()}, {"bytes", freed_}, {"kept", kept_.size()}}},
            {"cache_bytes_after", size_after}};
  }
  uint64_t freed() const { return freed_; }
  std::size_t count() const { return removed_.size(); }

 private:
  const Context& ctx_;
  bool dry_;
  json removed_ = json::array();
  json kept_ = json::array();
  uint64_t freed_ = 0;
};

int run_prune(Context& ctx, const PruneOptions& opt) {
  if (!opt.partials && !opt.stale_locks && !opt.unknown && !opt.unreferenced && opt.older_than.empty() &&
      opt.max_size.empty()) {
    throw UsageError("prune: say what to remove: --partials, --stale-locks, --unknown, --unreferenced, "
                     "--older-than D and/or --max-size S (see cache_tool prune --help)");
  }
  const int64_t older = opt.older_than.empty() ? -1 : parse_duration(opt.older_than, "--older-than");
  const bool limit_size = !opt.max_size.empty();
  const uint64_t max_size = limit_size ? parse_size(opt.max_size, "--max-size") : 0;

  std::vector<Cached> cached;
  for (const auto& f : ctx.cache.list()) {
    if (f.partial) continue;
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) continue;
    Cached c;
    c.name = f.file_name;
    c.path = f.path;
    c.size = f.size;
    c.last_used = std::max<int64_t>(st.st_atim.tv_sec, st.st_mtim.tv_sec);
    cached.push_back(std::move(c));
  }

  Pruner p(ctx, opt.dry_run);
  if (opt.partials) p.partials(cached);
  if (opt.unknown) {
    std::set<std::string> known;
    for (const auto& t : all_targets(ctx.registry, false)) known.insert(t.weights->file_name);
    for (auto& c : cached) {
      if (!known.count(c.name)) p.remove_cached(c, "not in the registry");
    }
  }
  if (older >= 0) {
    const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - older;
    for (auto& c : cached) {
      if (c.last_used < cutoff) p.remove_cached(c, "last used " + iso_time(c.last_used));
    }
  }
  uint64_t total = 0;
  for (const auto& c : cached) total += c.gone ? 0 : c.size;
  if (limit_size && total > max_size) {
    std::vector<Cached*> lru;
    for (auto& c : cached) {
      if (!c.gone) lru.push_back(&c);
    }
    std::sort(lru.begin(), lru.end(), [](const Cached* a, const Cached* b) {
      return a->last_used != b->last_used ? a->last_used < b->last_used : a->name < b->name;
    });
    for (Cached* c : lru) {
      if (total <= max_size) break;
      p.remove_cached(*c, "least recently used (cache above " + human_size(max_size) + ")");
      total -= c->size;
    }
  }
  if (opt.stale_locks) p.stale_locks();

  // The Hub's cache.
  const auto hf = hub_cache(ctx);
  if (opt.partials) {
    p.hub([&](bool dry) { return hf.remove_stale_incomplete(dry); }, "hub-incomplete",
          "interrupted Hub download (or a temporary file of a process that is gone)");
  }
  if (opt.unreferenced) {
    p.hub([&](bool dry) { return hf.remove_unreferenced_blobs(dry); }, "hub-blob", "Hub blob no snapshot points at");
  }
  if (opt.stale_locks) {
    p.hub([&](bool dry) { return hf.remove_stale_locks(dry); }, "hub-lock",
          "Hub lock nobody holds, or a stamp or resume record of a blob that is gone");
  }

  ctx.emit(p.report(total));
  ctx.say(std::string(opt.dry_run ? "would remove " : "removed ") + std::to_string(p.count()) + " file(s), " +
          human_size(p.freed()) + "; cached weights now " + human_size(total));
  return kOk;
}

}  // namespace

Command add_rm(CLI::App& root) {
  auto opt = std::make_shared<RmOptions>();
  auto* app = root.add_subcommand("rm", "Remove cached weights (with their stamps and partial downloads)");
  app->add_option("spec", opt->specs,
                  "NAME[:TAG] (TAG defaults to the default weights; NAME:* = every tag), or from the Hub cache "
                  "hf://ORG/NAME (the repository), hf://ORG/NAME@REV (a revision) or hf://ORG/NAME[@REV]/PATH "
                  "(a file; its blob goes when no other snapshot uses it)")
      ->required();
  app->footer(
      "Read-only caches are never touched. Exit status 1 when an entry was not in the writable cache.\n"
      "Example: cache_tool rm vgg19 resnet50:*\n"
      "Example: cache_tool rm hf://timm/resnet50.a1_in1k@main/model.safetensors hf://acme/old-model");
  return {app, [opt](Context& ctx) { return run_rm(ctx, *opt); }};
}

Command add_prune(CLI::App& root) {
  auto opt = std::make_shared<PruneOptions>();
  auto* app = root.add_subcommand("prune", "Clean the cache: leftovers, unknown files, old or excess weights");
  app->add_flag("--partials", opt->partials,
                "interrupted downloads (unless in progress), abandoned temporary files, stamps of deleted files; "
                "in the Hub cache: blobs/*.incomplete nobody is writing");
  app->add_flag("--stale-locks", opt->stale_locks,
                "lock files no process holds (run it when no download is starting); in the Hub cache also "
                ".locks/ stamps and resume records of blobs that are gone");
  app->add_flag("--unknown", opt->unknown, "files no registry entry names (other tools' files in a shared cache!)");
  app->add_flag("--unreferenced", opt->unreferenced, "Hub cache blobs that no snapshot file points at");
  app->add_option("--older-than", opt->older_than, "weights not used for D (30d, 12h, 2w; last use = "
                                                   "later of access and modification time)");
  app->add_option("--max-size", opt->max_size,
                  "then remove least recently used weights until the cache holds at most S (500M, 20GiB)");
  app->add_flag("--dry-run,-n", opt->dry_run, "only print what would be removed");
  app->footer(
      "Only the writable caches (torch.hub's and the Hub's) are touched. At least one selection option is required.\n"
      "Example: cache_tool prune --partials --stale-locks\n"
      "Example: cache_tool prune --older-than 90d --max-size 50GiB --dry-run");
  return {app, [opt](Context& ctx) { return run_prune(ctx, *opt); }};
}

}  // namespace cache_tool
