#include "modelzoo/cache/cache.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/env.h"
#include "modelzoo/error.h"

namespace modelzoo::cache {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStampSuffix = ".mzstamp";
constexpr const char* kTempMarker = ".mztmp";
const char* const kSideSuffixes[] = {".mzstamp", ".lock", ".part", ".part.meta"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string home_dir() {
  if (auto home = env::get("HOME")) return *home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir && *pw->pw_dir) {
    return pw->pw_dir;
  }
  throw CacheError(
      "cannot choose a cache directory: MODELZOO_CACHE, TORCH_HOME, XDG_CACHE_HOME and HOME are "
      "unset and the user has no home directory; set MODELZOO_CACHE");
}

fs::path expand_user(const std::string& p) {
  if (p == "~") return home_dir();
  if (p.rfind("~/", 0) == 0) return fs::path(home_dir()) / p.substr(2);
  return p;
}

/// Size and modification time (ns) of a regular file.
struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

std::optional<FileStat> stat_file(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  FileStat s;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return s;
}

/// This boot's id (/proc/sys/kernel/random/boot_id); "" when unknown.
const std::string& boot_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string s;
    std::getline(in, s);
    return s;
  }();
  return id;
}

std::optional<std::string> read_stamp_for(const fs::path& file, const FileStat& st,
                                          const fs::path& stamp_file = fs::path()) {
  std::ifstream in(stamp_file.empty() ? stamp_path(file) : stamp_file);
  if (!in) return std::nullopt;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (!j.is_object() || !j.contains("size") || !j.contains("mtime_ns") || !j.contains("sha256")) {
      return std::nullopt;
    }
    if (j.at("size").get<uint64_t>() != st.size || j.at("mtime_ns").get<int64_t>() != st.mtime_ns) {
      return std::nullopt;
    }
    // A stamp of a file whose data may not have reached the disk holds only
    // until the next boot: after a crash the file could hold other bytes.
    if (j.contains("boot_id") && (boot_id().empty() || j.at("boot_id").get<std::string>() != boot_id())) {
      return std::nullopt;
    }
    std::string digest = lower(j.at("sha256").get<std::string>());
    if (digest.size() != 64 ||
        !std::all_of(digest.begin(), digest.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
      return std::nullopt;
    }
    return digest;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a damaged stamp is as good as none: the file gets rehashed
  }
}

void write_stamp_for(const fs::path& file, const FileStat& st, const std::string& sha256, bool durable = true,
                     const fs::path& stamp_file = fs::path()) {
  static std::atomic<unsigned> counter{0};
  const fs::path stamp = stamp_file.empty() ? stamp_path(file) : stamp_file;
  const fs::path tmp = stamp.string() + "." + std::to_string(::getpid()) + "." +
                       std::to_string(counter++) + kTempMarker;
  nlohmann::json j = {{"size", st.size}, {"mtime_ns", st.mtime_ns}, {"sha256", lower(sha256)}};
  if (!durable) j["boot_id"] = boot_id();
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    out.close();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw CacheError("cannot write the integrity stamp " + stamp.string() + " for " + file.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, stamp, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw CacheError("cannot write the integrity stamp " + stamp.string() + ": " + ec.message());
  }
}

/// Examines one candidate file; nullopt when there is no regular file.
/// With `rehash_stamped` (CacheOptions::verify_full) a lookup that may hash
/// does not trust a matching stamp: the file is hashed again.
std::optional<Lookup> examine(const fs::path& file, bool readonly, const Expectation& expect,
                              bool verify_unstamped, bool rehash_stamped) {
  const auto st = stat_file(file);
  if (!st) return std::nullopt;
  Lookup l;
  l.path = file;
  l.readonly = readonly;
  l.state = EntryState::Unverified;
  if (expect.size && *expect.size != st->size) {
    l.mismatch = true;
    return l;
  }
  const auto stamped = read_stamp_for(file, *st);
  if (stamped && !(rehash_stamped && verify_unstamped)) {
    const auto& digest = stamped;
    if (digest_matches(expect, *digest)) {
      l.state = EntryState::Verified;
      l.sha256 = *digest;
    } else {
      l.mismatch = true;
      l.actual_sha256 = *digest;
    }
    return l;
  }
  if (!verify_unstamped) return l;
  const std::string digest = sha256_file(file);
  if (!digest_matches(expect, digest)) {
    l.mismatch = true;
    l.actual_sha256 = digest;
    if (stamped && *stamped != digest && !readonly) {
      // The bytes changed under a stamp that still matches size and mtime: it must not vouch for them again.
      std::error_code ec;
      fs::remove(stamp_path(file), ec);
    }
    return l;
  }
  l.state = EntryState::Verified;
  l.sha256 = digest;
  if (stamped && *stamped == digest) return l;  // rehashed on request (verify_full): the stamp still holds
  // Stamp only what is ours to write, and only if the file did not change while hashing.
  const auto after = stat_file(file);
  if (!readonly && after && after->size == st->size && after->mtime_ns == st->mtime_ns) {
    // A durable stamp only for bytes on disk: flush what another program
    // (e.g. torch.hub, which does not sync) may have left in the page cache;
    // if that fails, the stamp holds for this boot only.
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    const bool on_disk = fd >= 0 && ::fdatasync(fd) == 0;
    if (fd >= 0) ::close(fd);
    write_stamp_for(file, *st, digest, on_disk);
  }
  return l;
}

}  // namespace

fs::path stamp_path(const fs::path& file) { return fs::path(file.string() + kStampSuffix); }

std::optional<std::string> read_stamp_file(const fs::path& stamp, const fs::path& file) {
  const auto st = stat_file(file);
  if (!st) return std::nullopt;
  return read_stamp_for(file, *st, stamp);
}

void write_stamp_file(const fs::path& stamp, const fs::path& file, const std::string& sha256, bool durable) {
  const auto st = stat_file(file);
  if (!st) throw CacheError("cannot stamp " + file.string() + ": not a regular file");
  write_stamp_for(file, *st, sha256, durable, stamp);
}

bool digest_matches(const Expectation& expect, const std::string& digest) {
  if (expect.sha256.empty()) return true;
  const std::string want = lower(expect.sha256);
  const std::string got = lower(digest);
  if (expect.sha256_is_prefix) return got.size() >= want.size() && got.compare(0, want.size(), want) == 0;
  return got == want;
}

bool is_auxiliary_file(const std::string& file_name) {
  if (file_name.find(kTempMarker) != std::string::npos) return true;
  for (const char* suffix : kSideSuffixes) {
    if (ends_with(file_name, suffix)) return true;
  }
  return false;
}

fs::path default_cache_root() {
  if (auto v = env::get("MODELZOO_CACHE")) return expand_user(*v);
  if (auto v = env::get("TORCH_HOME")) return expand_user(*v) / "hub" / "checkpoints";
  if (auto v = env::get("XDG_CACHE_HOME")) return expand_user(*v) / "torch" / "hub" / "checkpoints";
  return fs::path(home_dir()) / ".cache" / "torch" / "hub" / "checkpoints";
}

fs::path default_hf_cache_root() {
  if (auto v = env::get("HF_HUB_CACHE")) return expand_user(*v);
  if (auto v = env::get("HUGGINGFACE_HUB_CACHE")) return expand_user(*v);
  if (auto v = env::get("HF_HOME")) return expand_user(*v) / "hub";
  if (auto v = env::get("XDG_CACHE_HOME")) return expand_user(*v) / "huggingface" / "hub";
  return fs::path(home_dir()) / ".cache" / "huggingface" / "hub";
}

CacheOptions CacheOptions::from_env() {
  CacheOptions o;
  o.root = default_cache_root();
  o.hf_root = default_hf_cache_root();
  if (auto v = env::get("MODELZOO_READONLY_CACHES")) {
    for (const auto& dir : env::split(*v, ':')) o.readonly_roots.push_back(expand_user(dir));
  }
  if (auto v = env::get("MODELZOO_VERIFY")) {
    if (*v == "full") {
      o.verify_full = true;
    } else if (!v->empty() && *v != "stamp") {
      throw CacheError("MODELZOO_VERIFY: expected \"full\" (rehash cached files on every load) or \"stamp\" "
                       "(the default: trust a matching size + mtime stamp), got \"" + *v + "\"");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------

EntryLock::EntryLock(const fs::path& file) : EntryLock(file, std::function<void()>()) {}

EntryLock::EntryLock(const fs::path& file, const std::function<void()>& while_waiting)
    : path_(file.string() + ".lock") {
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  if (ec) {
    throw CacheError("cannot create the cache directory " + path_.parent_path().string() + ": " +
                     ec.message());
  }
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      throw CacheError("cannot open the lock file " + path_.string() + ": " + std::strerror(errno));
    }
    try {
      for (;;) {
        if (::flock(fd_, while_waiting ? LOCK_EX | LOCK_NB : LOCK_EX) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK && while_waiting) {
          while_waiting();
          ::usleep(100 * 1000);
          continue;
        }
        throw CacheError("cannot lock " + path_.string() + ": " + std::strerror(errno));
      }
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
    // The lock counts only if the file locked is still the one under the
    // name: a cleaner may have unlinked it while this process waited.
    struct stat locked {}, named {};
    if (::fstat(fd_, &locked) == 0 && ::stat(path_.c_str(), &named) == 0 && locked.st_dev == named.st_dev &&
        locked.st_ino == named.st_ino) {
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
}

EntryLock::~EntryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

std::string host_tag() {
  char buf[256] = {0};
  std::string out;
  if (::gethostname(buf, sizeof buf - 1) == 0) {
    for (const char* p = buf; *p && out.size() < 32; ++p) {
      const unsigned char c = static_cast<unsigned char>(*p);
      out += std::isalnum(c) || c == '-' ? static_cast<char>(c) : '-';
    }
  }
  return out.empty() ? "host" : out;
}

fs::path private_temp_path(const fs::path& file) {
  static std::atomic<unsigned> counter{0};
  std::string stem = file.filename().string();
  if (stem.size() > 180) stem.resize(180);
  return file.parent_path() / (stem + ".@" + host_tag() + "." + std::to_string(::getpid()) + "." +
                               std::to_string(counter++) + kTempMarker);
}

bool locks_are_reliable(const fs::path& dir) {
  struct statfs sfs {};
  if (::statfs(dir.c_str(), &sfs) != 0) return true;
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case 0x6969UL:      // NFS
    case 0x517BUL:      // SMB
    case 0xFF534D42UL:  // CIFS
    case 0xFE534D42UL:  // SMB2
    case 0x00C36400UL:  // Ceph
    case 0x0BD00BD0UL:  // Lustre
    case 0x65735546UL:  // FUSE (sshfs, GlusterFS, s3fs, ...)
    case 0x5346414FUL:  // AFS
    case 0x6B414653UL:  // kAFS
    case 0x01021997UL:  // 9p (v9fs)
    case 0x47504653UL:  // GPFS
    case 0x013111A8UL:  // IBRIX
      return false;
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------

Cache::Cache(CacheOptions options) : options_(std::move(options)) {}

fs::path Cache::target_path(const std::string& file_name) const {
  auto refuse = [&](const std::string& why) -> fs::path {
    throw CacheError("unsafe cache file name \"" + file_name + "\": expected a plain file name, " + why);
  };
  if (file_name.empty()) return refuse("found an empty name");
  if (file_name == "." || file_name == "..") return refuse("found a directory reference");
  if (file_name.size() > 255) return refuse("found " + std::to_string(file_name.size()) + " bytes (max 255)");
  for (unsigned char c : file_name) {
    if (c == '/' || c == '\\') return refuse("found a path separator");
    if (c < 0x20 || c == 0x7f) return refuse("found a control character");
  }
  if (file_name.front() == '.') return refuse("found a leading '.'");
  if (is_auxiliary_file(file_name)) return refuse("found a name reserved for the cache's side files");
  if (options_.root.empty()) throw CacheError("no cache directory configured for \"" + file_name + "\"");
  return options_.root / file_name;
}

Lookup Cache::find(const std::string& file_name, const Expectation& expect, bool verify_unstamped) const {
  const fs::path target = target_path(file_name);
  std::optional<Lookup> first_readonly;
  for (const auto& root : options_.readonly_roots) {
    auto l = examine(root / file_name, /*readonly=*/true, expect, verify_unstamped, options_.verify_full);
    if (!l) continue;
    if (l->state == EntryState::Verified) return *l;
    if (!first_readonly) first_readonly = l;
  }
  if (auto l = examine(target, /*readonly=*/false, expect, verify_unstamped, options_.verify_full)) return *l;
  if (first_readonly) return *first_readonly;
  Lookup l;
  const fs::path part(target.string() + ".part");
  if (stat_file(part)) {
    l.state = EntryState::Partial;
    l.path = part;
  }
  return l;
}

void Cache::write_stamp(const fs::path& file, const std::string& sha256, bool durable) const {
  const auto st = stat_file(file);
  if (!st) throw CacheError("cannot stamp " + file.string() + ": not a regular file");
  write_stamp_for(file, *st, sha256, durable);
}

std::optional<std::string> Cache::read_stamp(const fs::path& file) const {
  const auto st = stat_file(file);
  if (!st) return std::nullopt;
  return read_stamp_for(file, *st);
}

std::vector<fs::path> Cache::search_path() const {
  std::vector<fs::path> out = options_.readonly_roots;
  out.push_back(options_.root);
  return out;
}

std::vector<CachedFile> Cache::list() const {
  std::vector<CachedFile> out;
  std::error_code ec;
  fs::directory_iterator it(options_.root, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    throw CacheError("cannot list the cache directory " + options_.root.string() + ": " + ec.message());
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    const bool partial = ends_with(name, ".part");
    if (is_auxiliary_file(name) && !partial) continue;
    const auto st = stat_file(entry.path());
    if (!st) continue;
    CachedFile f;
    f.file_name = partial ? name.substr(0, name.size() - 5) : name;
    f.path = entry.path();
    f.size = st->size;
    f.partial = partial;
    if (!partial) f.sha256 = read_stamp_for(entry.path(), *st);
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const CachedFile& a, const CachedFile& b) {
    return a.file_name != b.file_name ? a.file_name < b.file_name : a.partial < b.partial;
  });
  return out;
}

bool Cache::remove(const std::string& file_name) const {
  const fs::path target = target_path(file_name);
  if (!fs::exists(options_.root)) return false;
  EntryLock lock(target);
  std::error_code ec;
  const bool existed = fs::remove(target, ec);
  if (ec) throw CacheError("cannot remove " + target.string() + ": " + ec.message());
  for (const char* suffix : {".mzstamp", ".part", ".part.meta"}) {
    fs::remove(fs::path(target.string() + suffix), ec);
  }
  return existed;
}

}  // namespace modelzoo::cache
