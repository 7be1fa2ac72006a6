#include "support/process.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace mz_test {

TempDir::TempDir(const std::string& prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string must_run(const std::string& command) {
  CommandResult r = run_command(command);
  if (r.exit_code != 0) {
    throw std::runtime_error("command failed (exit " + std::to_string(r.exit_code) + "): " + command +
                             "\n" + r.out);
  }
  return r.out;
}

}  // namespace mz_test

#include "modelzoo/cache/cache.h"

#include <fstream>
#include <sstream>

namespace mz_test {

nlohmann::json cached_fixture(const std::filesystem::path& dir, const std::filesystem::path& script,
                              const std::string& args) {
  namespace fs = std::filesystem;
  fs::create_directories(dir.parent_path());
  const modelzoo::cache::EntryLock lock(dir);

  const fs::path manifest = dir / "manifest.json";
  std::error_code ec;
  const bool fresh = fs::exists(manifest, ec) && fs::last_write_time(manifest, ec) >= fs::last_write_time(script, ec);
  if (!fresh) {
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    const std::string out = must_run(std::string(python()) + " " + shell_quote(script.string()) + " " +
                                     shell_quote(dir.string()) + " " + args);
    const fs::path tmp = dir / "manifest.json.tmp";
    std::ofstream(tmp) << out;
    fs::rename(tmp, manifest);
  }
  std::ifstream in(manifest);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

}  // namespace mz_test
