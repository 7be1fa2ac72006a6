#pragma once
/// \file
/// Small helpers for tests: a temporary directory removed on destruction,
/// running a shell command (the Python oracle) and capturing its output.

#include <filesystem>
#include <string>

#include "support/tls_ca.h"  // shell_quote

namespace mz_test {

/// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  /// Creates `<tmp>/<prefix>XXXXXX`.
  explicit TempDir(const std::string& prefix = "mz_test_");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The directory.
  const std::filesystem::path& path() const { return path_; }
  /// path() / relative.
  std::filesystem::path operator/(const std::string& relative) const { return path_ / relative; }

 private:
  std::filesystem::path path_;
};

/// What a command printed and how it ended.
struct CommandResult {
  int exit_code = -1;  ///< exit status, or -1 when killed by a signal
  std::string out;     ///< standard output
};

/// Runs `command` with /bin/sh, capturing standard output (standard error
/// passes through to the test log).
CommandResult run_command(const std::string& command);

/// Runs a command that must succeed; throws std::runtime_error with its output otherwise.
std::string must_run(const std::string& command);

/// The Python interpreter that has Debian's torch and torchvision.
inline const char* python() { return "/usr/bin/python3"; }

}  // namespace mz_test

#include <nlohmann/json.hpp>

namespace mz_test {

/// Runs `/usr/bin/python3 script dir args` once and keeps its stdout (a JSON
/// manifest) in `dir/manifest.json`; later calls (in any process) reuse it
/// unless the script is newer. Concurrent callers wait on `dir.lock`
/// (modelzoo::cache::EntryLock).
nlohmann::json cached_fixture(const std::filesystem::path& dir, const std::filesystem::path& script,
                              const std::string& args);

}  // namespace mz_test
