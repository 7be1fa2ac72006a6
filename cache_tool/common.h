#pragma once
/// \file
/// What every cache_tool subcommand shares: the global options, the context
/// built from them and the environment, `NAME[:TAG]` selections, size and
/// duration arguments, and output helpers (human text on stdout, errors and
/// progress on stderr, one JSON document on stdout with `--json`).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "modelzoo/cache/cache.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/registry/registry.h"

namespace cache_tool {

namespace mz = modelzoo;
using nlohmann::json;

/// Exit statuses: 0 success, 1 failure (of any item), 2 usage error.
enum ExitStatus : int { kOk = 0, kFailure = 1, kUsage = 2 };

/// A command line that parses but cannot be carried out as given (exit 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The global options (valid before or after the subcommand name).
struct Globals {
  std::vector<std::string> registries;  ///< --registry FILE (repeatable; after MODELZOO_REGISTRY)
  std::string cache_dir;                ///< --cache-dir DIR (else MODELZOO_CACHE, else torch.hub's)
  std::string hf_cache_dir;             ///< --hf-cache-dir DIR (else HF_HUB_CACHE, else huggingface_hub's)
  bool offline = false;                 ///< --offline (or MODELZOO_OFFLINE=1)
  std::vector<std::string> mirrors;     ///< --mirror URL (repeatable; before MODELZOO_MIRROR)
  bool json = false;                    ///< --json: one JSON document on stdout
  bool quiet = false;                   ///< --quiet: only errors (and requested data) are printed
};

/// Everything a subcommand works with: the environment read once, with the
/// command line on top of it.
class Context {
 public:
  /// Registry (built-in + MODELZOO_REGISTRY + --registry), cache options
  /// (MODELZOO_CACHE / --cache-dir, MODELZOO_READONLY_CACHES), fetch options
  /// (MODELZOO_OFFLINE / --offline, MODELZOO_MIRROR / --mirror, SSL_CERT_FILE).
  explicit Context(const Globals& g);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  mz::registry::Registry registry;  ///< the effective registry
  mz::fetch::FetchOptions fetch;    ///< download options
  mz::cache::Cache cache;           ///< the cache (writable root + read-only roots)
  bool json_mode = false;           ///< --json
  bool quiet = false;               ///< --quiet

  /// Prints a human line on stdout unless --json or --quiet.
  void say(const std::string& line) const;
  /// Prints a line on stderr (always, also with --json and --quiet).
  void warn(const std::string& line) const;
  /// Prints `doc` as the command's JSON document (with --json only).
  void emit(const json& doc) const;
};

/// `NAME`, `NAME:TAG` or `NAME:*` as typed on the command line.
struct Spec {
  std::string model;
  std::string tag;  ///< "DEFAULT" when omitted; "*" for every tag
  /// Parses; throws UsageError for an empty name or tag.
  static Spec parse(const std::string& text);
};

/// One registry weights entry selected on the command line.
struct Target {
  std::string model;                                    ///< model name
  const mz::registry::WeightsEntry* weights = nullptr;  ///< its weights entry (owned by the registry)
  bool is_default = false;                              ///< the model's default tag
  /// "model:TAG".
  std::string label() const { return model + ":" + weights->tag; }
};

/// The entries a spec names (every tag for `NAME:*`). Throws RegistryError
/// for an unknown model or tag (with suggestions).
std::vector<Target> resolve(const mz::registry::Registry& registry, const Spec& spec);

/// resolve(ctx.registry, spec), and for a model this machine does not know,
/// the registry files that `unpack` left in <cache>/bundle-registries/ which
/// define it (or where such files would be).
std::vector<Target> resolve(const Context& ctx, const Spec& spec);

/// Every weights entry of the registry (all models, all tags), in name order.
std::vector<Target> all_targets(const mz::registry::Registry& registry, bool default_tags_only);

/// Registry entries whose cache file name is `file_name`.
std::vector<Target> targets_for_file(const mz::registry::Registry& registry, const std::string& file_name);

/// What the cached file of a weights entry must be.
mz::cache::Expectation expectation(const mz::registry::WeightsEntry& w);

/// The download request for a target (URL, cache name, expectation, label).
mz::fetch::FetchRequest fetch_request(const Target& t);

/// Lines of a list file: one `NAME[:TAG]` per line; blank lines and `#`
/// comments are skipped. Throws UsageError naming the file when unreadable.
std::vector<std::string> read_list_file(const std::string& file);

/// "548.1 MiB" style.
std::string human_size(uint64_t bytes);

/// Parses "500M", "10GiB", "1.5G", "2TB", "4096": K/M/G/T and KiB/MiB/GiB/TiB
/// are powers of 1024, KB/MB/GB/TB powers of 1000, no suffix means bytes.
/// Throws UsageError naming `option` and the text.
uint64_t parse_size(const std::string& text, const std::string& option);

/// Parses "30d", "12h", "90m", "45s", "2w" (a bare number means days) into
/// seconds. Throws UsageError naming `option` and the text.
int64_t parse_duration(const std::string& text, const std::string& option);

/// Name of a cache lookup's state for output: "absent", "verified",
/// "unverified" (present, not yet hashed), "mismatch" (known to differ from
/// the registry), "partial" (only an interrupted download).
const char* lookup_state(const mz::cache::Lookup& l);

/// Runs `fn(i)` for i in [0, n) on up to `jobs` threads. Every call runs even
/// when others throw; the first exception is rethrown at the end.
void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t)>& fn);

/// Seconds since the epoch of a file time in nanoseconds, as ISO 8601 UTC.
std::string iso_time(int64_t epoch_seconds);

}  // namespace cache_tool
