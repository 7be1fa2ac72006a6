#pragma once
/// \file
/// What the subcommands share for the Hugging Face Hub's cache (the
/// `--hf-cache-dir` one, cache/hf_cache.h): `hf://ORG/NAME[@REVISION][/PATH]`
/// selections on the command line, and the snapshot files they name.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "modelzoo/cache/hf_cache.h"

namespace cache_tool {

/// `hf://ORG/NAME[@REVISION][/PATH]` as typed: a whole repository, a
/// revision (branch, tag or commit) or one file of it.
struct HubSpec {
  std::string text;      ///< as typed
  std::string repo;      ///< ORG/NAME
  std::string revision;  ///< empty: every revision (`main` is assumed for a file without one)
  std::string path;      ///< empty: every file
  /// Parses; throws UsageError naming the text.
  static HubSpec parse(const std::string& text);
};

/// One snapshot file of a Hub cache.
struct HubEntry {
  std::string repo, commit, path;
  std::vector<std::string> refs;  ///< branch / tag names of the commit
  std::filesystem::path pointer;  ///< snapshots/<commit>/<path>
  std::string etag;               ///< blob name (empty when the link is broken)
  uint64_t size = 0;
  bool broken = false;
  /// "hf://ORG/NAME@<commit>/<path>".
  std::string uri() const { return "hf://" + repo + "@" + commit + "/" + path; }
};

/// The Hub cache of the context's options (writable root + read-only roots).
mz::cache::HfCache hub_cache(const Context& ctx);

/// Every Hub cache root: the writable one (false), then the read-only roots (true).
std::vector<std::pair<std::filesystem::path, bool>> hub_roots(const Context& ctx);

/// Every snapshot file of one cache root.
std::vector<HubEntry> hub_entries(const mz::cache::HfCache& hf);

/// The snapshot files `spec` names in `hf`'s writable root (a revision
/// matches by commit or by ref name).
std::vector<HubEntry> select(const std::vector<HubEntry>& all, const HubSpec& spec);

/// The registry target's hf:// URL as a spec of one file (its revision is `main` when not given).
HubSpec hub_spec_of(const Target& t);

}  // namespace cache_tool
