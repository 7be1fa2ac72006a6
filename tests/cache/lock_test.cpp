// Entry locks against a cleaner that unlinks lock files (prune --stale-locks),
// the waiting callback, and the names of private temporaries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cache/test_util.h"
#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/maintenance.h"

namespace {

namespace fs = std::filesystem;
using namespace modelzoo::cache;
using namespace mz_cache_test;

/// How many descriptors of this process are open on `p`.
int open_descriptors_on(const fs::path& p) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/self/fd", ec)) {
    std::error_code ec2;
    if (fs::read_symlink(e.path(), ec2) == p) ++n;
  }
  return n;
}

bool wait_for(const std::function<bool()>& done) {
  for (int i = 0; i < 6000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return done();
}

TEST(CacheLock, LockFileUnlinkedWhileWaitingIsOpenedAgain) {
  // The interleaving `prune --stale-locks` can produce: a waiter opened the
  // lock file and waits; the cleaner, holding the lock, unlinks the file and
  // lets go. The waiter then locks a file that no longer has a name, while a
  // newcomer creates a fresh lock file: unless the waiter notices and locks
  // the file under the name, both would hold "the" lock at once.
  TempDir dir;
  const fs::path file = dir / "m.pth";
  const fs::path lock_file = dir / "m.pth.lock";
  auto cleaner = std::make_unique<TryEntryLock>(file, /*create=*/true);
  ASSERT_TRUE(cleaner->acquired());

  std::atomic<bool> waiter_holds{false}, release{false};
  std::thread waiter([&] {
    EntryLock lock(file);
    waiter_holds = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  // The waiter has opened the lock file (the cleaner's descriptor is the other one).
  ASSERT_TRUE(wait_for([&] { return open_descriptors_on(lock_file) == 2; }));
  fs::remove(lock_file);  // as remove_stale_lock does, while holding the lock
  cleaner.reset();

  ASSERT_TRUE(wait_for([&] { return waiter_holds.load(); }));
  EXPECT_TRUE(fs::exists(lock_file)) << "the waiter must hold a lock on a file under the lock's name";
  {
    TryEntryLock newcomer(file, /*create=*/true);
    EXPECT_FALSE(newcomer.acquired()) << "two holders of one entry lock";
  }
  release = true;
  waiter.join();
  TryEntryLock after(file, /*create=*/true);
  EXPECT_TRUE(after.acquired());
}

TEST(CacheLock, RemoveStaleLockNeverRobsAHolder) {
  TempDir dir;
  const Cache cache(CacheOptions{dir.path(), {}});
  const fs::path file = dir / "m.pth";
  {
    EntryLock held(file);
    EXPECT_FALSE(remove_stale_lock(cache, "m.pth"));
    EXPECT_TRUE(fs::exists(dir / "m.pth.lock"));
  }
  EXPECT_TRUE(remove_stale_lock(cache, "m.pth"));
  EXPECT_FALSE(fs::exists(dir / "m.pth.lock"));
  // A lock taken afterwards works on a fresh file.
  EntryLock again(file);
  EXPECT_TRUE(fs::exists(dir / "m.pth.lock"));
  EXPECT_FALSE(TryEntryLock(file).acquired());
}

TEST(CacheLock, WaitingCallbackRunsOnlyWhileAnotherHolderHasTheLock) {
  TempDir dir;
  const fs::path file = dir / "m.pth";
  int calls = 0;
  { EntryLock free_lock(file, [&] { ++calls; }); }
  EXPECT_EQ(calls, 0);

  std::atomic<int> waits{0};
  std::atomic<bool> got{false};
  std::thread t;
  {
    EntryLock first(file);
    t = std::thread([&] {
      EntryLock second(file, [&] { ++waits; });
      got = true;
    });
    ASSERT_TRUE(wait_for([&] { return waits.load() >= 2; }));
    EXPECT_FALSE(got.load());
  }
  t.join();
  EXPECT_TRUE(got.load());
}

TEST(CacheLock, AnExceptionFromTheWaitingCallbackLeavesNoLock) {
  TempDir dir;
  const fs::path file = dir / "m.pth";
  {
    EntryLock first(file);
    std::thread t([&] {
      EXPECT_THROW(EntryLock(file, [] { throw std::runtime_error("cancelled"); }), std::runtime_error);
    });
    t.join();
    EXPECT_EQ(open_descriptors_on(dir / "m.pth.lock"), 1);  // only `first`'s
  }
  EXPECT_TRUE(TryEntryLock(file).acquired());
}

TEST(CacheLock, LocalDirectoriesHaveReliableLocks) {
  TempDir dir;
  EXPECT_TRUE(locks_are_reliable(dir.path()));
  EXPECT_TRUE(locks_are_reliable(dir / "not-created-yet"));
}

TEST(CacheTemporaries, PrivateNamesCarryHostAndPidAndAreSideFiles) {
  TempDir dir;
  const fs::path a = private_temp_path(dir / "w.pth");
  const fs::path b = private_temp_path(dir / "w.pth");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.parent_path(), dir.path());
  const std::string name = a.filename().string();
  const std::string prefix = "w.pth.@" + host_tag() + "." + std::to_string(::getpid()) + ".";
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  EXPECT_TRUE(is_auxiliary_file(name));
  EXPECT_NE(host_tag().find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"),
            0u);

  // Housekeeping: this host's temporaries are judged by their pid, another
  // host's only by age (its pids mean nothing here).
  write_bytes(a, "x");
  write_bytes(dir / ("w.pth.@some-other-host." + std::to_string(::getpid()) + ".0.mztmp"), "y");
  const Cache cache(CacheOptions{dir.path(), {}});
  const auto side = list_side_files(cache);
  ASSERT_EQ(side.size(), 2u);
  for (const auto& f : side) {
    EXPECT_EQ(f.kind, SideKind::Temporary);
    if (f.file_name == name) {
      EXPECT_EQ(f.owner_pid, ::getpid());
    } else {
      EXPECT_EQ(f.owner_pid, 0);
    }
  }
}

}  // namespace
