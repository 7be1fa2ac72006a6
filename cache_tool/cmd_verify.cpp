// `verify`: rehash cached files in full (stamps are not trusted) and compare
// with the registry; `--repair` re-downloads what is wrong, or removes it
// when offline.
#include <algorithm>
#include <map>
#include <memory>
#include <thread>

#include "commands.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;

struct VerifyOptions {
  std::vector<std::string> specs;
  bool repair = false;
  int jobs = 2;
};

/// One file to check.
struct Item {
  fs::path path;
  std::string file_name;
  bool readonly = false;
  std::vector<Target> targets;  // registry entries for this file name (or the named ones)
  json result;
};

std::vector<Item> items_for_specs(const Context& ctx, const std::vector<std::string>& specs) {
  std::vector<Item> items;
  for (const auto& s : specs) {
    for (const auto& t : resolve(ctx, Spec::parse(s))) {
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
  return items;
}

std::string labels(const std::vector<Target>& ts) {
  std::string out;
  for (const auto& t : ts) out += (out.empty() ? "" : ", ") + t.label();
  return out;
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
  fs::remove(mz::cache::stamp_path(it.path), ec);
}

void repair(const Context& ctx, Item& it) {
  json& r = it.result;
  if (it.readonly) {
    r["action"] = "none: in a read-only cache";
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
    }
    const std::string status = r["status"];
    counts[status]++;
    if (status == "mismatch" || status == "absent" || status == "error" || r.value("repair_failed", false)) {
      failed = true;
    }
    const std::string who = it.targets.empty() ? std::string() : " (" + labels(it.targets) + ")";
    const std::string where = it.path.string() + who;
    if (status == "ok") {
      ctx.say("ok       " + where);
    } else if (status == "unknown") {
      ctx.say("unknown  " + where + ": not in the registry, sha256 " + r["actual_sha256"].get<std::string>());
    } else if (status == "partial") {
      ctx.say("partial  " + where + ": an interrupted download");
    } else if (status == "absent") {
      ctx.warn("ABSENT   " + where + ": not in the cache");
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
