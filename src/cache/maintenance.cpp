// Inventory of the cache's side files and non-blocking entry locks, for
// housekeeping (cache_tool prune).
#include "modelzoo/cache/maintenance.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "modelzoo/error.h"

namespace modelzoo::cache {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string strip(const std::string& s, const std::string& suffix) { return s.substr(0, s.size() - suffix.size()); }

/// "<anything>.<pid>.<n>.mztmp" -> pid; 0 when the name has another shape or
/// names another host ("<anything>.@<host>.<pid>.<n>.mztmp"): a pid means
/// nothing on this machine then.
long pid_of_temporary(const std::string& name) {
  const auto marker = name.rfind(".mztmp");
  if (marker == std::string::npos) return 0;
  const std::string head = name.substr(0, marker);
  const auto dot_n = head.rfind('.');
  if (dot_n == std::string::npos || dot_n == 0) return 0;
  const auto dot_pid = head.rfind('.', dot_n - 1);
  if (dot_pid == std::string::npos) return 0;
  const std::string pid = head.substr(dot_pid + 1, dot_n - dot_pid - 1);
  if (pid.empty() || pid.size() > 9 || !std::all_of(pid.begin(), pid.end(), ::isdigit)) return 0;
  const auto at = head.rfind(".@", dot_pid);
  if (at != std::string::npos && head.substr(at + 2, dot_pid - at - 2) != host_tag()) return 0;
  return std::stol(pid);
}

}  // namespace

const char* side_kind_name(SideKind k) {
  switch (k) {
    case SideKind::Partial: return "partial";
    case SideKind::PartialMeta: return "partial-meta";
    case SideKind::Lock: return "lock";
    case SideKind::Stamp: return "stamp";
    case SideKind::Temporary: return "temporary";
  }
  return "?";
}

std::vector<SideFile> list_side_files(const Cache& cache) {
  std::vector<SideFile> out;
  const fs::path& root = cache.options().root;
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    throw CacheError("cannot list the cache directory " + root.string() + ": " + ec.message());
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!is_auxiliary_file(name)) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    SideFile f;
    f.file_name = name;
    f.path = entry.path();
    f.size = static_cast<uint64_t>(st.st_size);
    f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    if (name.find(".mztmp") != std::string::npos) {
      f.kind = SideKind::Temporary;
      f.owner_pid = pid_of_temporary(name);
    } else if (ends_with(name, ".part.meta")) {
      f.kind = SideKind::PartialMeta;
      f.entry = strip(name, ".part.meta");
    } else if (ends_with(name, ".part")) {
      f.kind = SideKind::Partial;
      f.entry = strip(name, ".part");
    } else if (ends_with(name, ".lock")) {
      f.kind = SideKind::Lock;
      f.entry = strip(name, ".lock");
    } else if (ends_with(name, ".mzstamp")) {
      f.kind = SideKind::Stamp;
      f.entry = strip(name, ".mzstamp");
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const SideFile& a, const SideFile& b) { return a.file_name < b.file_name; });
  return out;
}

TryEntryLock::TryEntryLock(const fs::path& file, bool create) : path_(file.string() + ".lock") {
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
    if (fd_ < 0) {
      if (errno == ENOENT && !create) {
        acquired_ = true;  // no lock file: nobody can hold it
        return;
      }
      throw CacheError("cannot open the lock file " + path_.string() + ": " + std::strerror(errno));
    }
    for (;;) {
      if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) break;
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) return;
      const std::string why = std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
      throw CacheError("cannot lock " + path_.string() + ": " + why);
    }
    // As in EntryLock: the lock counts only on the file still under the name.
    struct stat locked {}, named {};
    if (::fstat(fd_, &locked) == 0 && ::stat(path_.c_str(), &named) == 0 && locked.st_dev == named.st_dev &&
        locked.st_ino == named.st_ino) {
      acquired_ = true;
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
}

TryEntryLock::~TryEntryLock() {
  if (fd_ >= 0) ::close(fd_);
}

bool remove_partial(const Cache& cache, const std::string& entry) {
  const fs::path target = cache.options().root / entry;
  TryEntryLock lock(target, /*create=*/true);
  if (!lock.acquired()) return false;
  std::error_code ec;
  fs::remove(fs::path(target.string() + ".part"), ec);
  if (ec) throw CacheError("cannot remove " + target.string() + ".part: " + ec.message());
  fs::remove(fs::path(target.string() + ".part.meta"), ec);
  return true;
}

bool remove_stale_lock(const Cache& cache, const std::string& entry) {
  const fs::path target = cache.options().root / entry;
  TryEntryLock lock(target, /*create=*/false);
  if (!lock.acquired()) return false;
  std::error_code ec;
  fs::remove(lock.path(), ec);  // still holding the lock while unlinking
  if (ec) throw CacheError("cannot remove " + lock.path().string() + ": " + ec.message());
  return true;
}

bool is_abandoned_temporary(const SideFile& f, int64_t now_ns, int64_t max_age_seconds) {
  if (now_ns - f.mtime_ns > max_age_seconds * 1000000000LL) return true;
  if (f.owner_pid <= 0) return false;  // unknown owner: only age decides
  return ::kill(static_cast<pid_t>(f.owner_pid), 0) != 0 && errno == ESRCH;
}

}  // namespace modelzoo::cache
