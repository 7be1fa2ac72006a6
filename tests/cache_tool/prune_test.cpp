// cache_tool prune: leftovers, stale locks (but never a held one), unknown
// files, age and size limits, and --dry-run.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "cache_tool/tool_util.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

/// Sets a file's access and modification time to `days` ago.
void age(const fs::path& file, int days) {
  const time_t t = std::time(nullptr) - static_cast<time_t>(days) * 86400;
  const timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

/// Holds `<file>.lock` like a download in progress does.
class HeldLock {
 public:
  explicit HeldLock(const fs::path& file) {
    fd_ = ::open((file.string() + ".lock").c_str(), O_RDWR | O_CREAT, 0644);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::flock(fd_, LOCK_EX), 0);
  }
  ~HeldLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

std::set<std::string> removed_paths(const json& d) {
  std::set<std::string> out;
  for (const auto& r : d["removed"]) out.insert(fs::path(r["path"].get<std::string>()).filename().string());
  return out;
}

TEST(CacheToolPrune, PartialsAndStaleLocksButNotActiveDownloads) {
  Sandbox sb;
  const Served a = sb.serve("pr_a", "V1", random_bytes(5000, 121));
  ASSERT_EQ(sb.tool({"fetch", "pr_a"}).exit_code, 0);
  const fs::path c = sb.cache();
  write_file(c / "dead.pth.part", std::string(700, 'x'));
  write_file(c / "dead.pth.part.meta", "{}");
  write_file(c / "busy.pth.part", std::string(300, 'y'));  // a download in progress
  write_file(c / "gone.pth.mzstamp", "{}");                // stamp of a deleted file
  write_file(c / "x.pth.999999999.0.mztmp", "tmp");         // temporary of a dead writer
  const std::string live_tmp = "y.pth." + std::to_string(::getpid()) + ".0.mztmp";
  write_file(c / live_tmp, "tmp");                          // its writer (this process) is alive
  write_file(c / "old.pth.lock", "");
  HeldLock busy(c / "busy.pth");

  const ToolRun dry = sb.tool({"--json", "prune", "--partials", "--stale-locks", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.doc()["dry_run"], true);
  EXPECT_EQ(removed_paths(dry.doc()),
            (std::set<std::string>{"dead.pth.part", "gone.pth.mzstamp", "x.pth.999999999.0.mztmp", "old.pth.lock",
                                   a.file_name + ".lock"}));
  EXPECT_TRUE(fs::exists(c / "dead.pth.part")) << "a dry run removes nothing";
  EXPECT_TRUE(fs::exists(c / "old.pth.lock"));

  const ToolRun r = sb.tool({"--json", "prune", "--partials", "--stale-locks"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_FALSE(fs::exists(c / "dead.pth.part"));
  EXPECT_FALSE(fs::exists(c / "dead.pth.part.meta"));
  EXPECT_FALSE(fs::exists(c / "gone.pth.mzstamp"));
  EXPECT_FALSE(fs::exists(c / "x.pth.999999999.0.mztmp"));
  EXPECT_FALSE(fs::exists(c / "old.pth.lock"));
  EXPECT_TRUE(fs::exists(c / "busy.pth.part")) << "its lock is held";
  EXPECT_TRUE(fs::exists(c / "busy.pth.lock")) << "held locks are kept";
  EXPECT_TRUE(fs::exists(c / live_tmp));
  EXPECT_TRUE(fs::exists(c / a.file_name)) << "finished weights are not partials";
  EXPECT_TRUE(fs::exists(c / (a.file_name + ".mzstamp")));
  std::set<std::string> kept;
  for (const auto& k : d["kept"]) kept.insert(fs::path(k["path"].get<std::string>()).filename().string());
  EXPECT_EQ(kept, (std::set<std::string>{"busy.pth.part", "busy.pth.lock"}));
  EXPECT_EQ(d["summary"]["bytes"], 700 + 2 + 2 + 3);
  const ToolRun text = sb.tool({"prune", "--partials"});
  EXPECT_THAT(text.out, HasSubstr("kept     " + (c / "busy.pth.part").string()));
}

TEST(CacheToolPrune, UnknownOlderThanAndMaxSize) {
  Sandbox sb;
  const Served fresh = sb.serve("pr_fresh", "V1", random_bytes(10000, 122));
  const Served old1 = sb.serve("pr_old1", "V1", random_bytes(20000, 123));
  const Served old2 = sb.serve("pr_old2", "V1", random_bytes(30000, 124));
  const Served mid = sb.serve("pr_mid", "V1", random_bytes(40000, 125));
  ASSERT_EQ(sb.tool({"fetch", "pr_fresh", "pr_old1", "pr_old2", "pr_mid"}).exit_code, 0);
  const fs::path c = sb.cache();
  write_file(c / "stranger.pth", std::string(500, 's'));
  age(c / old1.file_name, 100);
  age(c / old2.file_name, 95);
  age(c / mid.file_name, 10);

  // Unknown only.
  const ToolRun u = sb.tool({"--json", "prune", "--unknown"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(removed_paths(u.doc()), std::set<std::string>{"stranger.pth"});
  EXPECT_EQ(u.doc()["removed"][0]["reason"], "not in the registry");

  // Older than 90 days: both old ones, with their stamps.
  const ToolRun o = sb.tool({"--json", "prune", "--older-than", "90d"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(removed_paths(o.doc()), (std::set<std::string>{old1.file_name, old2.file_name}));
  EXPECT_FALSE(fs::exists(c / (old1.file_name + ".mzstamp")));
  EXPECT_TRUE(fs::exists(c / mid.file_name));
  EXPECT_EQ(o.doc()["cache_bytes_after"], 50000);

  // Max size: the least recently used go first until it fits.
  const ToolRun dry = sb.tool({"--json", "prune", "--max-size", "45000", "--dry-run"});
  EXPECT_EQ(removed_paths(dry.doc()), std::set<std::string>{mid.file_name});
  EXPECT_TRUE(fs::exists(c / mid.file_name));
  const ToolRun m = sb.tool({"--json", "prune", "--max-size", "40KiB"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(removed_paths(m.doc()), std::set<std::string>{mid.file_name});
  EXPECT_TRUE(fs::exists(c / fresh.file_name));
  EXPECT_EQ(m.doc()["cache_bytes_after"], 10000);
  const ToolRun nothing = sb.tool({"prune", "--max-size", "1G", "--older-than", "1w"});
  EXPECT_EQ(nothing.exit_code, 0);
  EXPECT_THAT(nothing.out, HasSubstr("removed 0 file(s)"));
}

TEST(CacheToolPrune, ReadOnlyCachesAreNeverTouched) {
  Sandbox sb;
  const fs::path ro = sb.dir() / "ro";
  write_file(ro / "stranger.pth", "x");
  write_file(ro / "left.pth.part", "y");
  age(ro / "stranger.pth", 400);
  const ToolRun r = sb.tool({"prune", "--unknown", "--partials", "--older-than", "1d", "--stale-locks"},
                        {{"MODELZOO_READONLY_CACHES", ro.string()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(ro / "stranger.pth"));
  EXPECT_TRUE(fs::exists(ro / "left.pth.part"));
}

}  // namespace
}  // namespace ct_test
