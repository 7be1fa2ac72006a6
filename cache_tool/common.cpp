#include "common.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "modelzoo/error.h"

namespace cache_tool {

namespace {

mz::registry::Registry make_registry(const Globals& g) {
  mz::registry::Registry r = mz::registry::Registry::from_env();
  for (const auto& file : g.registries) r.add_file(file);
  return r;
}

mz::fetch::FetchOptions make_fetch(const Globals& g) {
  mz::fetch::FetchOptions o = mz::fetch::FetchOptions::from_env();
  if (g.offline) {
    o.offline = true;
    o.offline_origin = "--offline";
  }
  o.mirrors.insert(o.mirrors.begin(), g.mirrors.begin(), g.mirrors.end());
  return o;
}

mz::cache::CacheOptions make_cache(const Globals& g) {
  mz::cache::CacheOptions o = mz::cache::CacheOptions::from_env();
  if (!g.cache_dir.empty()) o.root = g.cache_dir;
  if (!g.hf_cache_dir.empty()) o.hf_root = g.hf_cache_dir;
  return o;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Splits "12.5GiB" into 12.5 and "gib"; false when the number part is bad.
bool split_number(const std::string& text, double* value, std::string* unit) {
  const std::string t = trim(text);
  std::size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  if (i == 0) return false;
  const std::string num = t.substr(0, i);
  if (std::count(num.begin(), num.end(), '.') > 1 || num == ".") return false;
  *value = std::stod(num);
  *unit = lower(trim(t.substr(i)));
  return std::isfinite(*value);
}

}  // namespace

Context::Context(const Globals& g)
    : registry(make_registry(g)), fetch(make_fetch(g)), cache(make_cache(g)), json_mode(g.json), quiet(g.quiet) {}

void Context::say(const std::string& line) const {
  if (!json_mode && !quiet) std::cout << line << "\n";
}

void Context::warn(const std::string& line) const { std::cerr << line << "\n"; }

void Context::emit(const nlohmann::json& doc) const {
  if (json_mode) std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

Spec Spec::parse(const std::string& text) {
  Spec s;
  const auto colon = text.find(':');
  s.model = text.substr(0, colon);
  s.tag = colon == std::string::npos ? "DEFAULT" : text.substr(colon + 1);
  if (s.model.empty()) throw UsageError("expected NAME[:TAG], got \"" + text + "\" (empty model name)");
  if (s.tag.empty()) throw UsageError("expected NAME[:TAG], got \"" + text + "\" (empty tag after ':')");
  return s;
}

std::vector<Target> resolve(const mz::registry::Registry& registry, const Spec& spec) {
  const auto& m = registry.require(spec.model);
  std::vector<Target> out;
  if (spec.tag == "*") {
    for (const auto& w : m.weights) out.push_back({m.name, &w, w.tag == m.default_tag});
    return out;
  }
  const auto& w = m.require_weights(spec.tag);
  out.push_back({m.name, &w, w.tag == m.default_tag});
  return out;
}

std::vector<Target> resolve(const Context& ctx, const Spec& spec) {
  if (ctx.registry.find(spec.model) != nullptr) return resolve(ctx.registry, spec);
  try {
    return resolve(ctx.registry, spec);  // throws: unknown model, with suggestions
  } catch (const mz::RegistryError& e) {
    const std::filesystem::path dir = ctx.cache.options().root / "bundle-registries";
    const auto files = mz::registry::files_defining(spec.model, dir);
    std::string hint;
    if (!files.empty()) {
      hint = "; it is defined by the registry entries a bundle brought: " + files.front().string() +
             " (add it with --registry " + files.front().string() + " or to MODELZOO_REGISTRY)";
    } else {
      hint = "; if it came in a bundle, `unpack` wrote the bundle's registry entries to " + dir.string() +
             "/<bundle name>.json: add that file with --registry FILE or to MODELZOO_REGISTRY";
    }
    throw mz::RegistryError(e.what() + hint);
  }
}

std::vector<Target> all_targets(const mz::registry::Registry& registry, bool default_tags_only) {
  std::vector<Target> out;
  for (const auto& name : registry.names()) {
    const auto& m = registry.require(name);
    for (const auto& w : m.weights) {
      const bool is_default = w.tag == m.default_tag;
      if (!default_tags_only || is_default) out.push_back({name, &w, is_default});
    }
  }
  return out;
}

std::vector<Target> targets_for_file(const mz::registry::Registry& registry, const std::string& file_name) {
  std::vector<Target> out;
  for (const auto& t : all_targets(registry, false)) {
    if (t.weights->file_name == file_name) out.push_back(t);
  }
  return out;
}

mz::cache::Expectation expectation(const mz::registry::WeightsEntry& w) {
  mz::cache::Expectation e;
  e.sha256 = w.sha256.hex;
  e.sha256_is_prefix = w.sha256.is_prefix;
  e.size = w.size;
  return e;
}

mz::fetch::FetchRequest fetch_request(const Target& t) {
  mz::fetch::FetchRequest r;
  r.url = t.weights->url;
  r.file_name = t.weights->file_name;
  r.expect = expectation(*t.weights);
  r.label = t.label();
  return r;
}

std::vector<std::string> read_list_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw UsageError("cannot read the list file " + file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (!line.empty()) out.push_back(line);
  }
  if (in.bad()) throw UsageError("error while reading the list file " + file);
  return out;
}

std::string human_size(uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", b / double(1ull << 30));
  else if (bytes >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  else if (bytes >= (1ull << 10)) std::snprintf(buf, sizeof buf, "%.1f KiB", b / double(1ull << 10));
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

uint64_t parse_size(const std::string& text, const std::string& option) {
  double v = 0;
  std::string unit;
  auto bad = [&]() -> uint64_t {
    throw UsageError(option + ": expected a size such as 500M, 10GiB or 2TB, got \"" + text + "\"");
  };
  if (!split_number(text, &v, &unit)) return bad();
  double mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kib") mult = 1024.0;
  else if (unit == "m" || unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb") mult = 1e3;
  else if (unit == "mb") mult = 1e6;
  else if (unit == "gb") mult = 1e9;
  else if (unit == "tb") mult = 1e12;
  else return bad();
  const double bytes = v * mult;
  if (bytes > 1.8e19) return bad();
  return static_cast<uint64_t>(bytes);
}

int64_t parse_duration(const std::string& text, const std::string& option) {
  double v = 0;
  std::string unit;
  auto bad = [&]() -> int64_t {
    throw UsageError(option + ": expected a duration such as 30d, 12h, 90m, 45s or 2w, got \"" + text + "\"");
  };
  if (!split_number(text, &v, &unit)) return bad();
  double mult = 0;
  if (unit == "s") mult = 1;
  else if (unit == "m" || unit == "min") mult = 60;
  else if (unit == "h") mult = 3600;
  else if (unit.empty() || unit == "d") mult = 86400;
  else if (unit == "w") mult = 7 * 86400;
  else return bad();
  const double secs = v * mult;
  if (secs > 1e15) return bad();
  return static_cast<int64_t>(secs);
}

const char* lookup_state(const mz::cache::Lookup& l) {
  switch (l.state) {
    case mz::cache::EntryState::Absent: return "absent";
    case mz::cache::EntryState::Verified: return "verified";
    case mz::cache::EntryState::Unverified: return l.mismatch ? "mismatch" : "unverified";
    case mz::cache::EntryState::Partial: return "partial";
  }
  return "?";
}

void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t)>& fn) {
  const std::size_t workers = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, jobs)));
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t k = 1; k < workers; ++k) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

std::string iso_time(int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace cache_tool
