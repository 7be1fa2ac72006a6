// `list` and `path`: what the registry knows and where the cache has it.
#include <cstdio>
#include <map>
#include <memory>

#include "commands.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/fetch/hf.h"

namespace cache_tool {

namespace {

/// "built-in" or the user registry file that (last) defined the model.
std::string origin_of(const mz::registry::Registry& registry, const std::string& model) {
  const auto* m = registry.find(model);
  if (m == nullptr) return "";
  return m->origin.rfind("built-in registry/", 0) == 0 ? std::string("built-in") : m->origin;
}

struct ListOptions {
  std::vector<std::string> specs;
};

void print_table(const Context& ctx, const json& rows, uint64_t known_bytes, std::size_t unknown_sizes,
                 uint64_t verified_bytes, std::map<std::string, std::size_t>& by_state);

/// A registry entry's hf:// file in the Hub cache, resolved without the network (refs/).
mz::cache::Lookup hub_lookup(const mz::cache::HfCache& hf, const std::string& uri) {
  mz::cache::Lookup l;
  try {
    const auto f = mz::fetch::HubFile::parse(uri);
    const auto h = hf.find(f.repo, f.revision, f.path);
    if (h.state != mz::cache::HfLookup::State::Present) return l;
    l.path = h.pointer;
    l.readonly = h.readonly;
    const auto stamp = h.etag.size() == 64 ? mz::cache::read_stamp_file(hf.blob_stamp_path(f.repo, h.etag), h.blob)
                                           : std::nullopt;
    l.state = stamp && *stamp == h.etag ? mz::cache::EntryState::Verified : mz::cache::EntryState::Unverified;
    if (stamp) l.sha256 = *stamp;
  } catch (const mz::Error&) {
    // An entry that is not a valid Hub file lists as absent.
  }
  return l;
}

int run_list(Context& ctx, const ListOptions& opt) {
  std::vector<Target> targets;
  if (opt.specs.empty()) {
    targets = all_targets(ctx.registry, /*default_tags_only=*/false);
  } else {
    for (const auto& s : opt.specs) {
      auto more = resolve(ctx, Spec::parse(s.find(':') == std::string::npos ? s + ":*" : s));
      targets.insert(targets.end(), more.begin(), more.end());
    }
  }
  json rows = json::array();
  uint64_t known_bytes = 0, verified_bytes = 0;
  std::size_t unknown_sizes = 0;
  std::map<std::string, std::size_t> by_state;
  const mz::cache::HfCache hf(ctx.cache.options());
  for (const auto& t : targets) {
    const auto& w = *t.weights;
    const auto look = mz::fetch::is_hub_uri(w.url) ? hub_lookup(hf, w.url)
                                                    : ctx.cache.find(w.file_name, expectation(w), /*verify_unstamped=*/false);
    const std::string state = lookup_state(look);
    by_state[state]++;
    if (w.size) known_bytes += *w.size;
    else ++unknown_sizes;
    if (look.state == mz::cache::EntryState::Verified && w.size) verified_bytes += *w.size;
    rows.push_back({{"model", t.model},
                    {"tag", w.tag},
                    {"default", t.is_default},
                    {"file_name", w.file_name},
                    {"url", mz::fetch::sanitize_url(w.url)},
                    {"size", w.size ? json(*w.size) : json(nullptr)},
                    {"hash", w.sha256.is_prefix ? "prefix" : "full"},
                    {"sha256", w.sha256.hex},
                    {"hash_confidence", w.hash_confidence.empty() ? json(nullptr) : json(w.hash_confidence)},
                    {"size_confidence", w.size_confidence.empty() ? json(nullptr) : json(w.size_confidence)},
                    {"state", state},
                    {"readonly", look.readonly},
                    {"path", look.state == mz::cache::EntryState::Absent ? json(nullptr) : json(look.path.string())},
                    {"registry", origin_of(ctx.registry, t.model)}});
  }
  json totals = {{"entries", rows.size()},
                 {"known_bytes", known_bytes},
                 {"unknown_sizes", unknown_sizes},
                 {"verified_bytes", verified_bytes}};
  for (const char* s : {"absent", "verified", "unverified", "mismatch", "partial"}) totals[s] = by_state[s];
  json roots = json::array();
  for (const auto& r : ctx.cache.options().readonly_roots) roots.push_back(r.string());
  // The Hub's cache: every snapshot file, whoever downloaded it (modelzoo, huggingface_hub, @huggingface/hub).
  json hub = json::array();
  if (opt.specs.empty()) {
    for (const auto& repo : hf.scan()) {
      for (const auto& rev : repo.revisions) {
        for (const auto& f : rev.files) {
          hub.push_back({{"repo", repo.repo},
                         {"commit", rev.commit},
                         {"refs", rev.refs},
                         {"path", f.path},
                         {"size", f.size},
                         {"etag", f.etag},
                         {"state", f.broken ? "broken" : f.sha256 ? "verified" : "unverified"},
                         {"pointer", f.pointer.string()}});
        }
      }
    }
  }
  ctx.emit({{"command", "list"},
            {"ok", true},
            {"cache_dir", ctx.cache.options().root.string()},
            {"hf_cache_dir", hf.root().string()},
            {"readonly_roots", roots},
            {"entries", rows},
            {"hub", hub},
            {"totals", totals}});
  if (ctx.json_mode) return kOk;
  print_table(ctx, rows, known_bytes, unknown_sizes, verified_bytes, by_state);
  if (!hub.empty()) {
    std::printf("\nHub cache %s:\n%-40s %-10s %-30s %10s %s\n", hf.root().string().c_str(), "REPO", "COMMIT", "FILE",
                "SIZE", "STATE");
    for (const auto& h : hub) {
      std::string refs;
      for (const auto& ref : h["refs"]) refs += (refs.empty() ? " (" : ", ") + ref.get<std::string>();
      if (!refs.empty()) refs += ")";
      std::printf("%-40s %-10s %-30s %10s %s%s\n", h["repo"].get<std::string>().c_str(),
                  h["commit"].get<std::string>().substr(0, 10).c_str(), h["path"].get<std::string>().c_str(),
                  human_size(h["size"].get<uint64_t>()).c_str(), h["state"].get<std::string>().c_str(), refs.c_str());
    }
  }
  return kOk;
}

void print_table(const Context& ctx, const json& rows, uint64_t known_bytes, std::size_t unknown_sizes,
                 uint64_t verified_bytes, std::map<std::string, std::size_t>& by_state) {

  std::printf("%-28s %-28s %10s %-6s %-13s %s\n", "MODEL", "TAG", "SIZE", "HASH", "SINGLE-SOURCE", "STATE");
  std::size_t single_sourced = 0;
  for (const auto& r : rows) {
    const std::string size = r["size"].is_null() ? "?" : human_size(r["size"].get<uint64_t>());
    std::string state = r["state"].get<std::string>();
    if (r["readonly"].get<bool>()) state += " (read-only cache)";
    const std::string tag = r["tag"].get<std::string>() + (r["default"].get<bool>() ? "*" : "");
    // Which pinned values rest on one public source only.
    const bool single_hash = r["hash_confidence"] == "single_source";
    const bool single_size = r["size_confidence"] == "single_source";
    const std::string single = single_hash && single_size ? "sha256,size"
                               : single_hash              ? "sha256"
                               : single_size              ? "size"
                                                          : "-";
    if (single_hash || single_size) ++single_sourced;
    std::printf("%-28s %-28s %10s %-6s %-13s %s\n", r["model"].get<std::string>().c_str(), tag.c_str(), size.c_str(),
                r["hash"].get<std::string>().c_str(), single.c_str(), state.c_str());
  }
  if (ctx.quiet) return;  // the table is the data asked for; the totals line is commentary
  std::printf("%zu entries (%s of known sizes%s): %zu verified (%s), %zu absent, %zu partial, %zu mismatch, "
              "%zu unverified; %zu with a value from a single source; cache %s; * = default tag\n",
              rows.size(), human_size(known_bytes).c_str(),
              unknown_sizes ? (", " + std::to_string(unknown_sizes) + " unknown").c_str() : "",
              by_state["verified"], human_size(verified_bytes).c_str(), by_state["absent"], by_state["partial"],
              by_state["mismatch"], by_state["unverified"], single_sourced, ctx.cache.options().root.string().c_str());
}

struct PathOptions {
  std::vector<std::string> specs;
};

int run_path(Context& ctx, const PathOptions& opt) {
  json out = json::array();
  bool all_present = true;
  for (const auto& s : opt.specs) {
    for (const auto& t : resolve(ctx, Spec::parse(s))) {
      const auto& w = *t.weights;
      const auto look = ctx.cache.find(w.file_name, expectation(w), /*verify_unstamped=*/false);
      const bool present = look.state == mz::cache::EntryState::Verified ||
                           look.state == mz::cache::EntryState::Unverified;
      const auto path = present ? look.path : ctx.cache.target_path(w.file_name);
      all_present = all_present && present;
      out.push_back({{"model", t.model},
                     {"tag", w.tag},
                     {"path", path.string()},
                     {"state", lookup_state(look)},
                     {"readonly", look.readonly}});
      if (!ctx.json_mode) std::printf("%s\n", path.string().c_str());
      if (!present) ctx.warn("cache_tool path: " + t.label() + " is not in the cache (" + lookup_state(look) + ")");
    }
  }
  ctx.emit({{"command", "path"}, {"ok", all_present}, {"entries", out}});
  return all_present ? kOk : kFailure;
}

}  // namespace

Command add_list(CLI::App& root) {
  auto opt = std::make_shared<ListOptions>();
  auto* app = root.add_subcommand(
      "list", "Every registry entry x weights tag with size, hash kind (full/prefix) and cache state, plus totals");
  app->add_option("spec", opt->specs, "only these models (NAME = every tag, NAME:TAG = one)");
  app->footer(
      "States: absent, verified (stamp matches), unverified (present, not hashed yet), mismatch (known to differ),\n"
      "partial (interrupted download); '(read-only cache)' when found in MODELZOO_READONLY_CACHES.\n"
      "HASH: full sha256 or the prefix in the file name; SINGLE-SOURCE: pinned values (sha256, size) that only\n"
      "one public source states (\"hash_confidence\"/\"size_confidence\": \"single_source\" in the registry).\n"
      "Example: cache_tool list --json\n"
      "Example: cache_tool --cache-dir /data/torch list vgg19 resnet50");
  return {app, [opt](Context& ctx) { return run_list(ctx, *opt); }};
}

Command add_path(CLI::App& root) {
  auto opt = std::make_shared<PathOptions>();
  auto* app = root.add_subcommand("path", "Where NAME[:TAG]'s file is (or would be) cached; exit 1 if absent");
  app->add_option("spec", opt->specs, "NAME[:TAG] (TAG defaults to the model's default weights)")->required();
  app->footer("Example: cache_tool path vgg19:IMAGENET1K_V1");
  return {app, [opt](Context& ctx) { return run_path(ctx, *opt); }};
}

}  // namespace cache_tool
