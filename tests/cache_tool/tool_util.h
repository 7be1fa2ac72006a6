#pragma once
// Helpers for the cache_tool tests: running the real binary in a clean
// environment, a sandbox (cache directory + user registry whose entries point
// at the loopback nginx), and small byte/hash utilities.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/nginx_server.h"
#include "support/process.h"

namespace ct_test {

namespace fs = std::filesystem;
using nlohmann::json;

/// What one cache_tool run did.
struct ToolRun {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
  /// stdout parsed as JSON (fails the test with the output when it is not).
  json doc() const;
};

/// Environment variables for a run ("" value = leave unset).
using Env = std::map<std::string, std::string>;

/// Runs MZ_CACHE_TOOL_BIN with `args` in an environment without any
/// MODELZOO_* variable (HOME points at a scratch directory), plus `env`.
ToolRun run_tool(const std::vector<std::string>& args, const Env& env = {});

/// The shared loopback nginx of this test binary.
mz_test::NginxServer& server();

/// SHA-256 of bytes, lower-case hex.
std::string sha256_hex(const std::string& bytes);

/// `n` pseudo-random bytes (deterministic per seed).
std::string random_bytes(std::size_t n, uint32_t seed);

/// Reads a whole file ("" when it does not exist).
std::string read_file(const fs::path& p);
/// Writes a whole file (parents created).
void write_file(const fs::path& p, const std::string& bytes);

/// A weight file served by nginx and described by a registry entry.
struct Served {
  std::string model, tag, file_name, url, sha256, bytes;
  std::string label() const { return model + ":" + tag; }
  std::string server_path() const;  ///< "/ct/<file_name>" as nginx logs it
};

/// A scratch area: a cache directory and a user registry file.
class Sandbox {
 public:
  explicit Sandbox(const std::string& prefix = "mz_ct_");
  const fs::path& dir() const { return tmp_.path(); }
  /// The (not yet created) cache directory.
  fs::path cache() const { return tmp_.path() / "cache"; }
  /// The user registry file (rewritten by every add).
  fs::path registry() const { return tmp_.path() / "registry.json"; }
  /// --cache-dir CACHE --registry REGISTRY, then `args`.
  std::vector<std::string> args(const std::vector<std::string>& rest) const;
  /// run_tool(args(rest), env).
  ToolRun tool(const std::vector<std::string>& rest, const Env& env = {}) const;

  /// Serves `bytes` as /ct/<unique file name> and registers it as model:tag.
  Served serve(const std::string& model, const std::string& tag, const std::string& bytes);
  /// Registers an entry without serving anything (url as given).
  void add_entry(const std::string& model, const std::string& tag, const std::string& url, const std::string& sha256,
                 uint64_t size, const std::string& file_name = "");
  /// The registry document as written.
  const json& registry_doc() const { return doc_; }

 private:
  void save() const;
  mz_test::TempDir tmp_;
  json doc_;
};

/// One ustar member for hand-made (hostile) archives.
std::string tar_member(const std::string& name, const std::string& data, char type = '0',
                       const std::string& link = "");
/// The end-of-archive marker (two zero blocks).
std::string tar_end();

/// Names of the files (recursively) under `dir`; empty when it does not exist.
std::vector<std::string> files_under(const fs::path& dir);

}  // namespace ct_test
