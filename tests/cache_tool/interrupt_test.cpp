// cache_tool pack interrupted by SIGINT / SIGTERM while it writes the bundle:
// the temporary `<bundle>.<pid>.tmp` is removed, no bundle appears, and the
// process still ends by that signal.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cache_tool/tool_util.h"
#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/sha256.h"

namespace ct_test {
namespace {

/// Starts cache_tool with `args` (stderr into `err_file`); returns its pid.
pid_t start_tool(const std::vector<std::string>& args, const fs::path& err_file) {
  std::vector<std::string> argv_s = {MZ_CACHE_TOOL_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    if (std::string(*e).rfind("MODELZOO_", 0) != 0) env_s.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) ::dup2(fd, 2);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

TEST(CacheToolInterrupt, PackRemovesItsTemporaryBundleOnSigintAndSigterm) {
  Sandbox sb("mz_ct_intr_");
  // A large verified entry (sparse, so cheap to create), so that packing takes
  // long enough to be interrupted in the middle.
  const uint64_t size = 512ull << 20;
  const fs::path file = sb.cache() / "big-interrupt.pth";
  fs::create_directories(sb.cache());
  {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    ::close(fd);
  }
  const std::string digest = modelzoo::cache::sha256_file(file);
  modelzoo::cache::Cache(modelzoo::cache::CacheOptions{sb.cache(), {}}).write_stamp(file, digest);
  sb.add_entry("big_interrupt", "V1", "http://127.0.0.1:1/big-interrupt.pth", digest, size, "big-interrupt.pth");

  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    const fs::path out_dir = sb.dir() / ("out" + std::to_string(sig));
    fs::create_directories(out_dir);
    const fs::path bundle = out_dir / "b.tar";
    const fs::path err = sb.dir() / ("err" + std::to_string(sig));
    const pid_t pid = start_tool(sb.args({"pack", "big_interrupt", "-o", bundle.string()}), err);
    ASSERT_GT(pid, 0);
    const fs::path tmp = out_dir / ("b.tar." + std::to_string(pid) + ".tmp");
    // Signal once the temporary bundle holds some data.
    bool writing = false;
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 6000 && !writing && !exited; ++i) {
      std::error_code ec;
      writing = fs::file_size(tmp, ec) > (1u << 20) && !ec;
      exited = !writing && ::waitpid(pid, &status, WNOHANG) == pid;
      if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_FALSE(exited) << "pack finished before it could be interrupted: " << read_file(err);
    ASSERT_TRUE(writing);
    ASSERT_EQ(::kill(pid, sig), 0);
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status)) << "status " << status << ": " << read_file(err);
    if (WIFSIGNALED(status)) {
      EXPECT_EQ(WTERMSIG(status), sig);
    }
    EXPECT_EQ(files_under(out_dir), std::vector<std::string>{}) << "a temporary or partial bundle was left";
    const std::string msg = read_file(err);
    EXPECT_NE(msg.find("interrupted by " + std::string(sig == SIGINT ? "SIGINT" : "SIGTERM")), std::string::npos)
        << msg;
    EXPECT_NE(msg.find(bundle.string()), std::string::npos) << msg;
  }
  // The cache itself is untouched.
  EXPECT_EQ(modelzoo::cache::Cache(modelzoo::cache::CacheOptions{sb.cache(), {}}).read_stamp(file), digest);
}

}  // namespace
}  // namespace ct_test
