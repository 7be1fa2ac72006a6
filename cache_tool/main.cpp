// cache_tool: fill, inspect and manage the modelzoo weights cache.
// Exit status: 0 success, 1 failure, 2 usage error.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "modelzoo/cache/cache.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/hub/hub.h"
#include "modelzoo/registry/registry.h"

namespace {

using nlohmann::json;
namespace mz = modelzoo;

struct Globals {
  std::vector<std::string> registries;
  std::string cache_dir;
  bool offline = false;
  std::vector<std::string> mirrors;
  bool json_out = false;
  bool quiet = false;
};

// NAME[:TAG] -> (name, tag); tag defaults to DEFAULT.
std::pair<std::string, std::string> split_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return {spec, "DEFAULT"};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

// Environment first, then the command line on top of it.
mz::HubOptions make_options(const Globals& g) {
  mz::HubOptions o = mz::HubOptions::from_env();
  for (const auto& file : g.registries) o.registry.add_file(file);
  if (!g.cache_dir.empty()) o.cache.root = g.cache_dir;
  if (g.offline) o.fetch.offline = true;
  if (!g.mirrors.empty()) o.fetch.mirrors.insert(o.fetch.mirrors.begin(), g.mirrors.begin(), g.mirrors.end());
  return o;
}

const char* state_name(mz::cache::EntryState s) {
  switch (s) {
    case mz::cache::EntryState::Absent: return "absent";
    case mz::cache::EntryState::Verified: return "verified";
    case mz::cache::EntryState::Unverified: return "unverified";
    case mz::cache::EntryState::Partial: return "partial";
  }
  return "?";
}

mz::cache::Expectation expectation(const mz::registry::WeightsEntry& w) {
  mz::cache::Expectation e;
  e.sha256 = w.sha256.hex;
  e.sha256_is_prefix = w.sha256.is_prefix;
  e.size = w.size;
  return e;
}

std::string human_size(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  else if (bytes >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ull << 20));
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

int cmd_list(const Globals& g) {
  const mz::HubOptions o = make_options(g);
  const mz::cache::Cache cache(o.cache);
  json rows = json::array();
  uint64_t total = 0, cached = 0;
  for (const auto& name : o.registry.names()) {
    const auto& m = o.registry.require(name);
    for (const auto& w : m.weights) {
      const auto look = cache.find(w.file_name, expectation(w), /*verify_unstamped=*/false);
      json row = {{"model", name},
                  {"tag", w.tag},
                  {"default", w.tag == m.default_tag},
                  {"file_name", w.file_name},
                  {"url", mz::fetch::sanitize_url(w.url)},
                  {"size", w.size ? json(*w.size) : json(nullptr)},
                  {"hash", w.sha256.is_prefix ? "prefix" : "full"},
                  {"sha256", w.sha256.hex},
                  {"state", state_name(look.state)},
                  {"readonly", look.readonly},
                  {"path", look.state == mz::cache::EntryState::Absent ? json(nullptr) : json(look.path.string())}};
      if (w.size) total += *w.size;
      if (look.state == mz::cache::EntryState::Verified && w.size) cached += *w.size;
      rows.push_back(row);
    }
  }
  if (g.json_out) {
    std::cout << json{{"cache_dir", o.cache.root.string()}, {"entries", rows},
                      {"total_known_bytes", total}, {"verified_known_bytes", cached}}.dump(2)
              << "\n";
    return 0;
  }
  std::printf("%-28s %-26s %10s %-6s %-10s\n", "MODEL", "TAG", "SIZE", "HASH", "STATE");
  for (const auto& r : rows) {
    const std::string size = r["size"].is_null() ? "?" : human_size(r["size"].get<uint64_t>());
    std::string state = r["state"].get<std::string>();
    if (r["readonly"].get<bool>()) state += " (read-only)";
    std::printf("%-28s %-26s %10s %-6s %-10s\n", r["model"].get<std::string>().c_str(),
                (r["tag"].get<std::string>() + (r["default"].get<bool>() ? "*" : "")).c_str(), size.c_str(),
                r["hash"].get<std::string>().c_str(), state.c_str());
  }
  std::printf("%zu weights entries, %s of known sizes, %s verified in %s (* = default)\n", rows.size(),
              human_size(total).c_str(), human_size(cached).c_str(), o.cache.root.string().c_str());
  return 0;
}

int cmd_path(const Globals& g, const std::vector<std::string>& specs) {
  const mz::HubOptions o = make_options(g);
  const mz::cache::Cache cache(o.cache);
  json out = json::array();
  bool all_present = true;
  for (const auto& spec : specs) {
    const auto [name, tag] = split_spec(spec);
    const auto& w = o.registry.require(name).require_weights(tag);
    const auto look = cache.find(w.file_name, expectation(w), /*verify_unstamped=*/false);
    const auto path = look.state == mz::cache::EntryState::Absent ? cache.target_path(w.file_name) : look.path;
    all_present = all_present && look.state != mz::cache::EntryState::Absent;
    out.push_back({{"model", name}, {"tag", w.tag}, {"path", path.string()}, {"state", state_name(look.state)}});
    if (!g.json_out) std::cout << path.string() << "\n";
  }
  if (g.json_out) std::cout << out.dump(2) << "\n";
  return all_present ? 0 : 1;
}

int cmd_fetch(const Globals& g, const std::vector<std::string>& specs, bool all) {
  mz::HubOptions o = make_options(g);
  std::vector<std::pair<std::string, std::string>> todo;
  if (all) {
    for (const auto& name : o.registry.names()) todo.emplace_back(name, "DEFAULT");
  }
  for (const auto& s : specs) todo.push_back(split_spec(s));
  if (todo.empty()) {
    std::cerr << "cache_tool fetch: expected NAME[:TAG]... or --all\n";
    return 2;
  }
  json results = json::array();
  int failures = 0;
  for (const auto& [name, tag] : todo) {
    const std::string label = name + ":" + tag;
    try {
      const auto r = mz::fetch_weights(name, mz::Weights::parse(tag), o);
      results.push_back({{"model", name}, {"tag", tag}, {"ok", true}, {"path", r.path.string()},
                         {"downloaded", r.downloaded}, {"bytes", r.bytes}, {"sha256", r.sha256}});
      if (!g.json_out && !g.quiet) {
        std::cout << (r.downloaded ? "fetched  " : "cached   ") << label << " -> " << r.path.string() << " ("
                  << human_size(r.bytes) << ")\n";
      }
    } catch (const mz::Error& e) {
      ++failures;
      results.push_back({{"model", name}, {"tag", tag}, {"ok", false}, {"error", e.what()}});
      if (!g.json_out) std::cerr << "FAILED   " << label << ": " << e.what() << "\n";
    }
  }
  if (g.json_out) {
    std::cout << json{{"results", results}, {"failed", failures}}.dump(2) << "\n";
  } else if (!g.quiet) {
    std::cout << (todo.size() - failures) << " ok, " << failures << " failed\n";
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cache_tool: fill, inspect and manage the modelzoo weights cache"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--registry", g.registries, "extra registry JSON file (repeatable; later ones win)");
  app.add_option("--cache-dir", g.cache_dir, "cache directory (default: MODELZOO_CACHE, else torch.hub's)");
  app.add_flag("--offline", g.offline, "never touch the network");
  app.add_option("--mirror", g.mirrors, "mirror base URL tried before a weight's own URL (repeatable)");
  app.add_flag("--json", g.json_out, "machine-readable output");
  app.add_flag("--quiet,-q", g.quiet, "print only errors");

  auto* list = app.add_subcommand("list", "every registry entry x weights tag with size, hash kind and cache state");
  list->footer("Example: cache_tool list --json");

  std::vector<std::string> path_specs;
  auto* path = app.add_subcommand("path", "where NAME[:TAG]'s file is (or would be) cached; exit 1 if absent");
  path->add_option("spec", path_specs, "NAME[:TAG]")->required();
  path->footer("Example: cache_tool path vgg19:IMAGENET1K_V1");

  std::vector<std::string> fetch_specs;
  bool fetch_all = false;
  auto* fetch = app.add_subcommand("fetch", "download and verify weights into the cache");
  fetch->add_option("spec", fetch_specs, "NAME[:TAG] (TAG defaults to the model's default weights)");
  fetch->add_flag("--all", fetch_all, "every model's default weights");
  fetch->footer("Example: cache_tool --cache-dir /data/torch fetch vgg19 vgg16:IMAGENET1K_FEATURES");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*list) return cmd_list(g);
    if (*path) return cmd_path(g, path_specs);
    if (*fetch) return cmd_fetch(g, fetch_specs, fetch_all);
  } catch (const mz::Error& e) {
    std::cerr << "cache_tool: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cache_tool: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
