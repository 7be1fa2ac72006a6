// `verify`: rehash cached files in full (stamps are not trusted) and compare
// with the registry; `--repair` re-downloads what is wrong, or removes it
// when offline. Hub blobs (the Hugging Face cache) are rehashed against their
// names: an LFS blob is named by its SHA-256.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "commands.h"
#include "hub.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/fetch/hf.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;

struct VerifyOptions {
  std::vector<std::string> specs;
  bool repair = false;
  int jobs = 2;
};

/// A blob of a Hub cache and the snapshot files that point at it.
struct HubBlob {
  fs::path root;                 // the Hub cache root it lies in
  std::string repo, etag;        // empty etag: a broken link (entries has the one pointer)
  std::vector<HubEntry> entries;
};

/// One file to check.
struct Item {
  fs::path path;
  std::string file_name;
  bool readonly = false;
  std::vector<Target> targets;  // registry entries for this file name (or the named ones)
  std::optional<HubBlob> hub;   // a Hub blob (path is the blob)
  json result;
};

/// Items for the Hub blobs among `entries` (of the cache at `root`), one per
/// blob, plus one per broken snapshot link; `unreferenced` blobs get items too.
void add_hub_items(std::vector<Item>& items, const fs::path& root, bool readonly, const std::vector<HubEntry>& entries,
                   const std::vector<std::pair<std::string, std::string>>& unreferenced = {}) {
  const mz::cache::HfCache hf(root);
  auto item_for = [&](const std::string& repo, const std::string& etag) -> Item& {
    const fs::path blob = hf.blob_path(repo, etag);
    for (auto& it : items) {
      if (it.hub && it.path == blob) return it;
    }
    Item it;
    it.path = blob;
    it.file_name = etag;
    it.readonly = readonly;
    it.hub = HubBlob{root, repo, etag, {}};
    items.push_back(std::move(it));
    return items.back();
  };
  for (const auto& e : entries) {
    if (e.broken) {
      Item it;
      it.path = e.pointer;
      it.file_name = e.path;
      it.readonly = readonly;
      it.hub = HubBlob{root, e.repo, "", {e}};
      it.result = {{"status", "absent"}, {"error", "the snapshot entry points at a blob that is gone"}};
      items.push_back(std::move(it));
      continue;
    }
    if (e.etag.empty()) continue;  // a link out of blobs/: not the Hub's layout, nothing to compare with
    item_for(e.repo, e.etag).hub->entries.push_back(e);
  }
  for (const auto& [repo, etag] : unreferenced) item_for(repo, etag);
}

/// The Hub blobs of the files `spec` names, in every Hub cache root (each
/// with every snapshot file of its root that points at it, so that a repair
/// leaves no link to a removed blob); an absent item when no root has them.
void add_hub_spec(const Context& ctx, std::vector<Item>& items, const HubSpec& spec,
                  const std::vector<Target>& targets = {}) {
  bool found = false;
  const std::size_t first = items.size();
  for (const auto& [root, ro] : hub_roots(ctx)) {
    const auto all = hub_entries(mz::cache::HfCache(root));
    const auto chosen = select(all, spec);
    found = found || !chosen.empty();
    std::set<std::pair<std::string, std::string>> blobs;
    std::vector<HubEntry> keep;
    for (const auto& e : chosen) {
      if (e.broken) keep.push_back(e);
      else blobs.insert({e.repo, e.etag});
    }
    for (const auto& e : all) {
      if (!e.broken && blobs.count({e.repo, e.etag})) keep.push_back(e);
    }
    add_hub_items(items, root, ro, keep);
  }
  for (std::size_t i = first; i < items.size(); ++i) items[i].targets = targets;
  if (found) return;
  Item it;
  it.path = hub_cache(ctx).repo_dir(spec.repo);
  it.file_name = spec.text;
  it.targets = targets;
  it.hub = HubBlob{hub_cache(ctx).root(), spec.repo, "", {}};
  it.result = {{"status", "absent"}};
  items.push_back(std::move(it));
}

std::vector<Item> items_for_specs(const Context& ctx, const std::vector<std::string>& specs) {
  std::vector<Item> items;
  for (const auto& s : specs) {
    if (mz::fetch::is_hub_uri(s)) {
      add_hub_spec(ctx, items, HubSpec::parse(s));
      continue;
    }
    for (const auto& t : resolve(ctx, Spec::parse(s))) {
      if (mz::fetch::is_hub_uri(t.weights->url)) {
        add_hub_spec(ctx, items, hub_spec_of(t), {t});
        continue;
      }
      const std::string& fn = t.weights->file_name;
      bool found = false;
      std::vector<fs::path> places;
      for (const auto& root : ctx.cache.options().readonly_roots) places.push_back(root / fn);
      places.push_back(ctx.cache.target_path(fn));
      for (std::size_t k = 0; k < places.size(); ++k) {
        std::error_code ec;
        if (!fs::is_regular_file(places[k], ec)) continue;
        auto same = std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.path == places[k]; });
        if (same != items.end()) {
          same->targets.push_back(t);
          found = true;
          continue;
        }
        Item it;
        it.path = places[k];
        it.file_name = fn;
        it.readonly = k + 1 < places.size();
        it.targets = {t};
        items.push_back(std::move(it));
        found = true;
      }
      if (!found) {
        Item it;
        it.path = ctx.cache.target_path(fn);
        it.file_name = fn;
        it.targets = {t};
        it.result = {{"status", "absent"}};
        items.push_back(std::move(it));
      }
    }
  }
  return items;
}

std::vector<Item> items_for_cache(const Context& ctx) {
  std::vector<Item> items;
  auto add_dir = [&](const fs::path& root, bool readonly) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      const bool partial = name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0;
      if (mz::cache::is_auxiliary_file(name) && !partial) continue;
      if (!fs::is_regular_file(e.path(), ec)) continue;
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      Item it;
      it.path = p;
      it.file_name = p.filename().string();
      it.readonly = readonly;
      if (it.file_name.size() > 5 && it.file_name.compare(it.file_name.size() - 5, 5, ".part") == 0) {
        it.file_name.resize(it.file_name.size() - 5);
        it.result = {{"status", "partial"}};
      } else {
        it.targets = targets_for_file(ctx.registry, it.file_name);
      }
      items.push_back(std::move(it));
    }
  };
  for (const auto& root : ctx.cache.options().readonly_roots) add_dir(root, true);
  add_dir(ctx.cache.options().root, false);
  for (const auto& [root, ro] : hub_roots(ctx)) {
    const mz::cache::HfCache hf(root);
    std::vector<std::pair<std::string, std::string>> unreferenced;
    for (const auto& r : hf.scan()) {
      for (const auto& etag : r.unreferenced_blobs) unreferenced.emplace_back(r.repo, etag);
    }
    add_hub_items(items, root, ro, hub_entries(hf), unreferenced);
  }
  return items;
}

std::string labels(const std::vector<Target>& ts) {
  std::string out;
  for (const auto& t : ts) out += (out.empty() ? "" : ", ") + t.label();
  return out;
}

/// Who uses an item: registry entries, and for a Hub blob the snapshot files pointing at it.
std::string users(const Item& it) {
  std::string out = labels(it.targets);
  if (it.hub) {
    for (const auto& e : it.hub->entries) out += (out.empty() ? "" : ", ") + e.uri();
  }
  return out;
}

bool is_sha256_name(const std::string& etag) {
  return etag.size() == 64 && etag.find_first_not_of("0123456789abcdef") == std::string::npos;
}

/// Rehashes a Hub blob: an LFS blob must hash to its name; a registry entry's pin must hold too.
void check_hub(const Item& it, json& r, const std::string& digest, uint64_t size) {
  const HubBlob& h = *it.hub;
  for (const auto& t : it.targets) {
    const auto& w = *t.weights;
    if (!w.sha256.hex.empty() && (!w.sha256.matches(digest) || (w.size && *w.size != size))) {
      r.update({{"status", "mismatch"}, {"expected_sha256", w.sha256.hex}, {"against", "registry"}});
      return;
    }
  }
  if (!is_sha256_name(h.etag)) {
    r.update({{"status", "unknown"}, {"reason", "the blob is named by a git blob id, not a SHA-256"}});
    return;
  }
  if (digest != h.etag) {
    r.update({{"status", "mismatch"}, {"expected_sha256", h.etag}, {"against", "etag"}});
    return;
  }
  r.update({{"status", "ok"}, {"expected_sha256", h.etag}});
  if (!it.readonly) mz::cache::HfCache(h.root).stamp_blob(h.repo, h.etag, digest);
}

/// Rehashes one file and classifies it.
void check(const Context& ctx, Item& it) {
  json& r = it.result;
  r["path"] = it.path.string();
  r["file_name"] = it.file_name;
  r["readonly"] = it.readonly;
  json entries = json::array();
  for (const auto& t : it.targets) entries.push_back(t.label());
  r["entries"] = entries;
  if (it.hub) {
    json pointers = json::array();
    for (const auto& e : it.hub->entries) pointers.push_back({{"uri", e.uri()}, {"pointer", e.pointer.string()}});
    r.update({{"kind", "hub"}, {"repo", it.hub->repo}, {"etag", it.hub->etag}, {"snapshots", pointers}});
  }
  if (r.contains("status")) return;  // absent or partial: nothing to hash

  std::error_code ec;
  const uint64_t size = fs::file_size(it.path, ec);
  std::string digest;
  try {
    digest = mz::cache::sha256_file(it.path);
  } catch (const mz::Error& e) {
    r.update({{"status", "error"}, {"error", std::string(e.what())}});
    return;
  }
  r.update({{"size", size}, {"actual_sha256", digest}});
  if (it.hub) {
    check_hub(it, r, digest, size);
    return;
  }
  if (it.targets.empty()) {
    // Not in the registry: the stamp (when it still describes the file) is all we can compare with.
    const auto stamped = it.readonly ? std::nullopt : ctx.cache.read_stamp(it.path);
    if (stamped && *stamped != digest) {
      r.update({{"status", "mismatch"}, {"expected_sha256", *stamped}, {"against", "stamp"}});
    } else {
      r["status"] = "unknown";
    }
    return;
  }
  for (const auto& t : it.targets) {
    const auto& w = *t.weights;
    if (w.sha256.matches(digest) && (!w.size || *w.size == size)) {
      r.update({{"status", "ok"}, {"expected_sha256", w.sha256.hex}});
      if (!it.readonly) ctx.cache.write_stamp(it.path, digest);
      return;
    }
  }
  const auto& w = *it.targets.front().weights;
  r.update({{"status", "mismatch"}, {"expected_sha256", w.sha256.hex}, {"against", "registry"}});
  if (w.size && *w.size != size) r["expected_size"] = *w.size;
}

/// Drops a stamp that vouches for content the file no longer has.
void forget_stamp(const Item& it) {
  if (it.readonly) return;
  std::error_code ec;
  if (it.hub) {
    if (!it.hub->etag.empty()) fs::remove(mz::cache::HfCache(it.hub->root).blob_stamp_path(it.hub->repo, it.hub->etag), ec);
    return;
  }
  fs::remove(mz::cache::stamp_path(it.path), ec);
}

/// A damaged Hub blob or a broken link: removed, then every snapshot file
/// that used it downloaded again by its commit (offline: the links go too).
void repair_hub(const Context& ctx, Item& it) {
  json& r = it.result;
  const HubBlob& h = *it.hub;
  const mz::cache::HfCache hf(h.root);
  std::error_code ec;
  if (!h.etag.empty()) {
    mz::cache::EntryLock lock(hf.lock_target(h.repo, h.etag));
    fs::remove(it.path, ec);
  }
  if (ctx.fetch.offline || h.entries.empty()) {
    for (const auto& e : h.entries) hf.remove_file(e.repo, e.commit, e.path);
    r.update({{"status", "removed"},
              {"action", h.entries.empty() ? "removed (no snapshot file uses it)"
                                           : "removed with its snapshot entries (offline)"}});
    return;
  }
  std::string done;
  try {
    for (const auto& e : h.entries) {
      const auto res = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse(e.uri()), hub_cache(ctx), ctx.fetch, {},
                                                 e.uri());
      done += (done.empty() ? "" : ", ") + e.uri();
      r.update({{"actual_sha256", res.sha256}, {"size", res.bytes}});
    }
    r.update({{"status", "repaired"}, {"action", "downloaded again: " + done}});
  } catch (const mz::Error& e) {
    for (const auto& entry : h.entries) hf.remove_file(entry.repo, entry.commit, entry.path);
    r.update({{"status", "removed"},
              {"action", "removed with its snapshot entries after the download failed"},
              {"error", std::string(e.what())},
              {"repair_failed", true}});
  }
}

void repair(const Context& ctx, Item& it) {
  json& r = it.result;
  if (it.readonly) {
    r["action"] = "none: in a read-only cache";
    return;
  }
  if (it.hub) {
    repair_hub(ctx, it);
    return;
  }
  if (it.targets.empty() || ctx.fetch.offline) {
    ctx.cache.remove(it.file_name);
    r.update({{"status", "removed"},
              {"action", it.targets.empty() ? "removed (not in the registry, cannot be downloaded)"
                                            : "removed (offline)"}});
    return;
  }
  try {
    const auto res = mz::fetch::fetch_to_cache(fetch_request(it.targets.front()), ctx.cache, ctx.fetch);
    r.update({{"status", "repaired"}, {"action", "downloaded again from " + res.url}, {"actual_sha256", res.sha256},
              {"size", res.bytes}});
  } catch (const mz::Error& e) {
    ctx.cache.remove(it.file_name);
    r.update({{"status", "removed"},
              {"action", "removed after the download failed"},
              {"error", std::string(e.what())},
              {"repair_failed", true}});
  }
}

int run_verify(Context& ctx, const VerifyOptions& opt) {
  if (opt.jobs < 1 || opt.jobs > 64) throw UsageError("--jobs: expected 1..64, got " + std::to_string(opt.jobs));
  std::vector<Item> items = opt.specs.empty() ? items_for_cache(ctx) : items_for_specs(ctx, opt.specs);
  parallel_for(items.size(), opt.jobs, [&](std::size_t i) { check(ctx, items[i]); });

  std::map<std::string, std::size_t> counts;
  bool failed = false;
  json files = json::array();
  for (auto& it : items) {
    json& r = it.result;
    if (r["status"] == "mismatch") {
      forget_stamp(it);
      if (opt.repair) repair(ctx, it);
    } else if (r["status"] == "absent" && it.hub && !it.hub->entries.empty() && opt.repair) {
      repair(ctx, it);  // a broken snapshot link
    }
    const std::string status = r["status"];
    counts[status]++;
    if (status == "mismatch" || status == "absent" || status == "error" || r.value("repair_failed", false)) {
      failed = true;
    }
    const std::string used_by = users(it);
    const std::string who = used_by.empty() ? std::string() : " (" + used_by + ")";
    const std::string where = it.path.string() + who;
    if (status == "ok") {
      ctx.say("ok       " + where);
    } else if (status == "unknown") {
      ctx.say("unknown  " + where + ": " + r.value("reason", std::string("not in the registry")) + ", sha256 " +
              r["actual_sha256"].get<std::string>());
    } else if (status == "partial") {
      ctx.say("partial  " + where + ": an interrupted download");
    } else if (status == "absent") {
      ctx.warn("ABSENT   " + where + ": " + r.value("error", std::string("not in the cache")) +
               (r.contains("action") ? "; " + r["action"].get<std::string>() : std::string()));
    } else if (status == "error") {
      ctx.warn("ERROR    " + where + ": " + r["error"].get<std::string>());
    } else if (status == "mismatch") {
      ctx.warn("MISMATCH " + where + ": expected sha256 " + r["expected_sha256"].get<std::string>() + ", got " +
               r["actual_sha256"].get<std::string>() +
               (r.contains("action") ? "; " + r["action"].get<std::string>() : std::string()));
    } else if (status == "repaired") {
      ctx.say("repaired " + where + ": " + r["action"].get<std::string>());
    } else if (status == "removed") {
      (r.value("repair_failed", false) ? ctx.warn("REMOVED  " + where + ": " + r["action"].get<std::string>() +
                                                  ": " + r["error"].get<std::string>())
                                       : ctx.say("removed  " + where + ": " + r["action"].get<std::string>()));
    }
    files.push_back(r);
  }
  json summary = json::object();
  for (const char* s : {"ok", "mismatch", "repaired", "removed", "unknown", "partial", "absent", "error"}) {
    summary[s] = counts[s];
  }
  ctx.emit({{"command", "verify"}, {"ok", !failed}, {"files", files}, {"summary", summary}});
  ctx.say(std::to_string(counts["ok"]) + " ok, " + std::to_string(counts["mismatch"]) + " mismatch, " +
          std::to_string(counts["repaired"]) + " repaired, " + std::to_string(counts["removed"]) + " removed, " +
          std::to_string(counts["absent"]) + " absent, " + std::to_string(counts["unknown"]) + " not in the registry, " +
          std::to_string(counts["partial"]) + " partial");
  return failed ? kFailure : kOk;
}

}  // namespace

Command add_verify(CLI::App& root) {
  auto opt = std::make_shared<VerifyOptions>();
  auto* app = root.add_subcommand("verify", "Rehash cached files in full and compare them with the registry");
  app->add_option("spec", opt->specs,
                  "NAME[:TAG] (NAME:* = every tag); default: every file in the cache (and read-only caches)");
  app->add_flag("--repair", opt->repair,
                "download wrong files again (removing them if that fails); with --offline, remove them");
  app->add_option("--jobs,-j", opt->jobs, "files hashed at the same time (default 2)");
  app->footer(
      "Stamps are not trusted: every byte is read. A stamp that no longer matches its file is removed.\n"
      "Exit status 1 when a file is wrong (and not repaired), missing or unreadable.\n"
      "Example: cache_tool verify\n"
      "Example: cache_tool verify vgg19 resnet50:* --repair");
  return {app, [opt](Context& ctx) { return run_verify(ctx, *opt); }};
}

}  // namespace cache_tool
