// The Hugging Face Hub's cache layout (see hf_cache.h).
#include "modelzoo/cache/hf_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "modelzoo/cache/maintenance.h"
#include "modelzoo/cache/publish.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"

namespace modelzoo::cache {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIncomplete = ".incomplete";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string> segments(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '/') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Trims trailing whitespace (refs written by other tools may end in a newline).
std::string trimmed_ref(const fs::path& file) {
  std::string text = read_text(file);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

/// Writes `text` to `target` through a temporary beside it and a rename.
void write_atomically(const fs::path& target, const std::string& text) {
  static std::atomic<unsigned> counter{0};
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  const fs::path tmp = target.string() + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".mztmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      throw CacheError("cannot write " + target.string() + " (through " + tmp.string() + ")");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw CacheError("cannot write " + target.string() + ": " + ec.message());
  }
}

/// The repository id a cache folder name stands for ("models--a--b" -> "a/b"), or "".
std::string repo_of_folder(const std::string& folder) {
  const std::string prefix = "models--";
  if (folder.rfind(prefix, 0) != 0) return "";
  std::string rest = folder.substr(prefix.size());
  const auto sep = rest.find("--");
  if (sep == std::string::npos) return "";
  return rest.substr(0, sep) + "/" + rest.substr(sep + 2);
}

/// Regular files below `dir` (recursively), as paths relative to it with '/'.
std::vector<std::string> files_below(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->is_directory(e2) && !it->is_symlink(e2)) continue;
    out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The blob a snapshot entry resolves to, when it lies in `blobs` and exists.
std::optional<fs::path> resolve_pointer(const fs::path& pointer, std::string* etag) {
  std::error_code ec;
  const auto st = fs::symlink_status(pointer, ec);
  if (ec || !fs::exists(st)) return std::nullopt;
  const fs::path target = fs::canonical(pointer, ec);
  if (ec || !fs::is_regular_file(target, ec)) return std::nullopt;
  if (etag != nullptr) {
    etag->clear();
    if (target.parent_path().filename() == "blobs") *etag = target.filename().string();
  }
  return target;
}

}  // namespace

bool is_commit_hash(const std::string& revision) { return revision.size() == 40 && is_lower_hex(revision); }

std::string normalize_etag(const std::string& etag) {
  std::string e = etag;
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  const auto b = e.find_first_not_of('"');
  const auto l = e.find_last_not_of('"');
  if (b == std::string::npos) return "";
  return e.substr(b, l - b + 1);
}

void check_repo_id(const std::string& repo) {
  const auto parts = segments(repo);
  auto bad = [&](const std::string& why) {
    throw CacheError("invalid Hub repository id \"" + repo + "\": " + why +
                     " (expected ORG/NAME, e.g. timm/resnet50.a1_in1k)");
  };
  if (parts.size() != 2) bad("expected exactly one '/'");
  for (const auto& p : parts) {
    if (p.empty() || p.size() > 96) bad("each part has 1 to 96 characters");
    for (char c : p) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        bad(std::string("character '") + c + "' is not allowed");
      }
    }
    if (p.front() == '-' || p.front() == '.') bad("a part may not start with '-' or '.'");
    if (p.find("--") != std::string::npos || p.find("..") != std::string::npos) bad("\"--\" and \"..\" are not allowed");
  }
}

void check_revision(const std::string& revision) {
  auto bad = [&](const std::string& why) {
    throw CacheError("invalid Hub revision \"" + revision + "\": " + why + " (expected a branch, tag or commit)");
  };
  if (revision.empty()) bad("empty");
  if (revision.size() > 255) bad("longer than 255 characters");
  if (has_control(revision) || revision.find('\\') != std::string::npos) bad("control characters and '\\' are not allowed");
  for (const auto& s : segments(revision)) {
    if (s.empty() || s == "." || s == "..") bad("empty, \".\" and \"..\" segments are not allowed");
  }
}

void check_repo_path(const std::string& path) {
  auto bad = [&](const std::string& why) {
    throw CacheError("invalid path in a Hub repository \"" + path + "\": " + why);
  };
  if (path.empty()) bad("empty");
  if (path.size() > 1024) bad("longer than 1024 characters");
  if (has_control(path) || path.find('\\') != std::string::npos) bad("control characters and '\\' are not allowed");
  for (const auto& s : segments(path)) {
    if (s.empty() || s == "." || s == "..") bad("empty, \".\" and \"..\" segments are not allowed");
    if (s.size() > 255) bad("a segment is longer than 255 bytes");
  }
}

void check_etag(const std::string& etag) {
  const bool ok = !etag.empty() && etag.size() <= 128 && etag.front() != '.' &&
                  std::all_of(etag.begin(), etag.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                  }) &&
                  !ends_with(etag, kIncomplete);
  if (!ok) {
    throw CacheError("the Hub answered an ETag \"" + etag +
                     "\" that cannot name a cache blob (expected letters, digits, '-', '_' or '.')");
  }
}

std::string hf_repo_folder(const std::string& repo) {
  check_repo_id(repo);
  const auto slash = repo.find('/');
  return "models--" + repo.substr(0, slash) + "--" + repo.substr(slash + 1);
}

HfCache::HfCache(fs::path root, std::vector<fs::path> readonly_roots, bool verify_full)
    : root_(std::move(root)), readonly_roots_(std::move(readonly_roots)), verify_full_(verify_full) {}

HfCache::HfCache(const CacheOptions& options)
    : HfCache(options.hf_root.empty() ? default_hf_cache_root() : options.hf_root, options.readonly_roots,
              options.verify_full) {}

fs::path HfCache::repo_dir(const std::string& repo) const { return root_ / hf_repo_folder(repo); }

fs::path HfCache::blob_path(const std::string& repo, const std::string& etag) const {
  check_etag(etag);
  return repo_dir(repo) / "blobs" / etag;
}

fs::path HfCache::pointer_path(const std::string& repo, const std::string& commit, const std::string& path) const {
  check_revision(commit);
  check_repo_path(path);
  return repo_dir(repo) / "snapshots" / commit / fs::path(path);
}

fs::path HfCache::lock_target(const std::string& repo, const std::string& etag) const {
  check_etag(etag);
  return root_ / ".locks" / hf_repo_folder(repo) / etag;
}

fs::path HfCache::blob_stamp_path(const std::string& repo, const std::string& etag) const {
  return fs::path(lock_target(repo, etag).string() + ".mzstamp");
}

namespace {
std::optional<std::string> read_ref_in(const fs::path& repo_dir, const std::string& revision) {
  check_revision(revision);
  std::error_code ec;
  const fs::path ref = repo_dir / "refs" / fs::path(revision);
  if (!fs::is_regular_file(ref, ec)) return std::nullopt;
  const std::string text = trimmed_ref(ref);
  if (!is_commit_hash(text)) return std::nullopt;
  return text;
}
}  // namespace

std::optional<std::string> HfCache::read_ref(const std::string& repo, const std::string& revision) const {
  return read_ref_in(repo_dir(repo), revision);
}

void HfCache::write_ref(const std::string& repo, const std::string& revision, const std::string& commit) const {
  check_revision(revision);
  if (is_commit_hash(revision)) return;
  if (!is_commit_hash(commit)) throw CacheError("not a commit id for refs/" + revision + ": \"" + commit + "\"");
  if (read_ref(repo, revision) == commit) return;
  write_atomically(repo_dir(repo) / "refs" / fs::path(revision), commit);  // no newline, as huggingface_hub
}

HfLookup HfCache::find(const std::string& repo, const std::string& revision, const std::string& path) const {
  check_repo_path(path);
  const std::string folder = hf_repo_folder(repo);
  std::vector<std::pair<fs::path, bool>> roots;
  for (const auto& r : readonly_roots_) roots.emplace_back(r, true);
  roots.emplace_back(root_, false);
  HfLookup writable;
  writable.root = root_;
  for (const auto& [root, ro] : roots) {
    HfLookup l;
    l.root = root;
    l.readonly = ro;
    const fs::path dir = root / folder;
    if (is_commit_hash(revision)) {
      l.commit = revision;
    } else if (auto c = read_ref_in(dir, revision)) {
      l.commit = *c;
    }
    if (!l.commit.empty()) {
      l.pointer = dir / "snapshots" / l.commit / fs::path(path);
      std::error_code ec;
      if (fs::exists(fs::symlink_status(l.pointer, ec))) {
        if (auto blob = resolve_pointer(l.pointer, &l.etag)) {
          l.state = HfLookup::State::Present;
          l.blob = *blob;
          return l;
        }
        l.state = HfLookup::State::BrokenLink;
      }
    }
    if (!ro) writable = l;
  }
  return writable;
}

void HfCache::link(const std::string& repo, const std::string& commit, const std::string& path,
                   const std::string& etag) const {
  static std::atomic<unsigned> counter{0};
  const fs::path pointer = pointer_path(repo, commit, path);
  const fs::path blob = blob_path(repo, etag);
  std::error_code ec;
  fs::create_directories(pointer.parent_path(), ec);
  if (ec) throw CacheError("cannot create " + pointer.parent_path().string() + ": " + ec.message());
  // @huggingface/hub's cache scanner refuses a repository folder without refs/ (even an empty one).
  fs::create_directories(repo_dir(repo) / "refs", ec);
  // Relative, so that the cache can be moved or mounted elsewhere: one "../"
  // per directory between the pointer and the repository folder.
  const fs::path relative = fs::relative(blob, pointer.parent_path(), ec);
  if (ec || relative.empty()) throw CacheError("cannot make a relative link from " + pointer.string() + " to " + blob.string());
  const fs::path tmp = pointer.string() + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".mztmp";
  fs::remove(tmp, ec);
  fs::create_symlink(relative, tmp, ec);
  if (ec) throw CacheError("cannot create the snapshot link " + tmp.string() + ": " + ec.message());
  fs::rename(tmp, pointer, ec);
  if (ec) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw CacheError("cannot create the snapshot link " + pointer.string() + ": " + ec.message());
  }
}

BlobCheck HfCache::check_blob(const std::string& repo, const std::string& etag, const fs::path& blob) const {
  if (etag.size() != 64 || !is_lower_hex(etag)) return BlobCheck::Unchecked;
  std::error_code ec;
  const bool writable =
      fs::weakly_canonical(blob.parent_path(), ec) == fs::weakly_canonical(repo_dir(repo) / "blobs", ec);
  // A read-only root's stamps lie in its own .locks/ (written by whoever filled it).
  const fs::path stamp = writable ? blob_stamp_path(repo, etag)
                                  : blob.parent_path().parent_path().parent_path() / ".locks" /
                                        hf_repo_folder(repo) / (etag + ".mzstamp");
  if (!verify_full_) {
    if (auto d = read_stamp_file(stamp, blob); d && *d == etag) return BlobCheck::Verified;
  }
  const std::string digest = sha256_file(blob);
  if (digest != etag) return BlobCheck::Mismatch;
  if (writable) {
    try {
      stamp_blob(repo, etag, digest, /*durable=*/true);
    } catch (const CacheError&) {
      // A cache we cannot write to still serves the verified file.
    }
  }
  return BlobCheck::Verified;
}

void HfCache::stamp_blob(const std::string& repo, const std::string& etag, const std::string& sha256,
                         bool durable) const {
  const fs::path stamp = blob_stamp_path(repo, etag);
  std::error_code ec;
  fs::create_directories(stamp.parent_path(), ec);
  write_stamp_file(stamp, blob_path(repo, etag), sha256, durable);
}

std::vector<HfCachedRepo> HfCache::scan() const {
  std::vector<HfCachedRepo> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string repo = repo_of_folder(entry.path().filename().string());
    if (repo.empty() || !entry.is_directory()) continue;
    HfCachedRepo r;
    r.repo = repo;
    r.dir = entry.path();
    std::map<std::string, std::vector<std::string>> refs_by_commit;
    const fs::path refs = r.dir / "refs";
    for (const auto& name : files_below(refs)) refs_by_commit[trimmed_ref(refs / name)].push_back(name);
    std::set<std::string> referenced;
    std::error_code e2;
    for (const auto& snap : fs::directory_iterator(r.dir / "snapshots", e2)) {
      if (!snap.is_directory()) continue;
      HfCachedRevision rev;
      rev.commit = snap.path().filename().string();
      rev.refs = refs_by_commit[rev.commit];
      for (const auto& rel : files_below(snap.path())) {
        HfCachedFile f;
        f.path = rel;
        f.pointer = snap.path() / fs::path(rel);
        if (auto blob = resolve_pointer(f.pointer, &f.etag)) {
          std::error_code e3;
          f.size = fs::file_size(*blob, e3);
          if (!f.etag.empty()) {
            referenced.insert(f.etag);
            if (f.etag.size() == 64) {
              if (auto d = read_stamp_file(blob_stamp_path(repo, f.etag), *blob); d && *d == f.etag) f.sha256 = d;
            }
          }
        } else {
          f.broken = true;
        }
        rev.files.push_back(std::move(f));
      }
      r.revisions.push_back(std::move(rev));
    }
    std::sort(r.revisions.begin(), r.revisions.end(),
              [](const HfCachedRevision& a, const HfCachedRevision& b) { return a.commit < b.commit; });
    for (const auto& blob : fs::directory_iterator(r.dir / "blobs", e2)) {
      const std::string name = blob.path().filename().string();
      if (ends_with(name, kIncomplete) || name.find(".mztmp") != std::string::npos) {
        r.incomplete.push_back(name);
        continue;
      }
      std::error_code e3;
      r.blob_bytes += fs::file_size(blob.path(), e3);
      if (!referenced.count(name)) r.unreferenced_blobs.push_back(name);
    }
    std::sort(r.unreferenced_blobs.begin(), r.unreferenced_blobs.end());
    std::sort(r.incomplete.begin(), r.incomplete.end());
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const HfCachedRepo& a, const HfCachedRepo& b) { return a.repo < b.repo; });
  return out;
}

namespace {

/// Removes `dir` and its parents up to (not including) `stop` while they are empty.
void remove_empty_dirs(fs::path dir, const fs::path& stop) {
  std::error_code ec;
  while (!dir.empty() && dir != stop && dir.lexically_relative(stop).native().rfind("..", 0) != 0 &&
         fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) {
    fs::remove(dir, ec);
    dir = dir.parent_path();
  }
}

/// The etags the snapshot entries of a repository folder point at.
std::set<std::string> used_etags(const fs::path& dir) {
  std::set<std::string> used;
  std::error_code ec;
  for (const auto& snap : fs::directory_iterator(dir / "snapshots", ec)) {
    for (const auto& rel : files_below(snap.path())) {
      std::string etag;
      if (resolve_pointer(snap.path() / fs::path(rel), &etag) && !etag.empty()) used.insert(etag);
    }
  }
  return used;
}

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

int64_t mtime_seconds(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

/// An `.incomplete` blob without a lock file changed this recently may belong
/// to a client that takes no lock while it downloads: it is kept.
constexpr int64_t kLocklessGraceSeconds = 600;

}  // namespace

void HfCache::drop_if_empty(const std::string& repo) const {
  // As huggingface_hub's cache deletion: a repository without any revision
  // goes as a whole (a folder without snapshots/ or refs/ is an error to the
  // Hub's cache scanners).
  const fs::path dir = repo_dir(repo);
  std::error_code ec;
  fs::directory_iterator it(dir / "snapshots", ec);
  if (!ec && it != fs::directory_iterator()) return;
  std::error_code e2;
  if (!fs::is_directory(dir / "blobs", e2)) return;  // not a repository of the Hub's layout: left alone
  for (const auto& blob : fs::directory_iterator(dir / "blobs", e2)) {
    const std::string name = blob.path().filename().string();
    if (ends_with(name, kIncomplete)) return;  // a download under way keeps the folder
  }
  fs::remove_all(dir, ec);
  fs::remove_all(root_ / ".locks" / hf_repo_folder(repo), ec);
}

std::size_t HfCache::remove(const std::string& repo, const std::string& revision) const {
  const fs::path dir = repo_dir(repo);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::size_t removed = 0;
  std::set<std::string> commits;  // snapshots to drop
  if (revision.empty()) {
    for (const auto& snap : fs::directory_iterator(dir / "snapshots", ec)) commits.insert(snap.path().filename().string());
  } else if (is_commit_hash(revision)) {
    commits.insert(revision);
  } else if (auto c = read_ref(repo, revision)) {
    commits.insert(*c);
  } else {
    return 0;
  }
  // Refs naming a dropped commit go too (a ref to a missing snapshot breaks the Hub's cache scanners).
  for (const auto& name : files_below(dir / "refs")) {
    if (revision.empty() || commits.count(trimmed_ref(dir / "refs" / name))) fs::remove(dir / "refs" / fs::path(name), ec);
  }
  for (const auto& c : commits) {
    const fs::path snap = dir / "snapshots" / c;
    removed += files_below(snap).size();
    fs::remove_all(snap, ec);
  }
  // Blobs that no remaining snapshot references.
  const std::set<std::string> used = used_etags(dir);
  for (const auto& blob : fs::directory_iterator(dir / "blobs", ec)) {
    const std::string name = blob.path().filename().string();
    if (used.count(name) || ends_with(name, kIncomplete)) continue;
    try {
      EntryLock lock(lock_target(repo, name));
      fs::remove(blob.path(), ec);
      fs::remove(blob_stamp_path(repo, name), ec);
      ++removed;
    } catch (const CacheError&) {
      continue;  // a name that is not a blob of ours
    }
  }
  if (revision.empty()) {
    fs::remove_all(dir, ec);
    fs::remove_all(root_ / ".locks" / hf_repo_folder(repo), ec);
  } else {
    drop_if_empty(repo);
  }
  return removed;
}

std::size_t HfCache::remove_file(const std::string& repo, const std::string& revision, const std::string& path) const {
  check_repo_path(path);
  const fs::path dir = repo_dir(repo);
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    auto c = read_ref(repo, revision);
    if (!c) return 0;
    commit = *c;
  }
  const fs::path pointer = pointer_path(repo, commit, path);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(pointer, ec))) return 0;
  std::string etag;
  resolve_pointer(pointer, &etag);
  fs::remove(pointer, ec);
  if (ec) throw CacheError("cannot remove " + pointer.string() + ": " + ec.message());
  std::size_t removed = 1;
  const fs::path snap = dir / "snapshots" / commit;
  remove_empty_dirs(pointer.parent_path(), dir / "snapshots");
  if (!fs::exists(snap, ec)) {
    // The revision is gone: refs naming it would point at nothing (the Hub's scanners refuse such refs).
    for (const auto& name : files_below(dir / "refs")) {
      if (trimmed_ref(dir / "refs" / name) == commit) fs::remove(dir / "refs" / fs::path(name), ec);
    }
  }
  if (!etag.empty() && !used_etags(dir).count(etag)) {
    EntryLock lock(lock_target(repo, etag));
    if (fs::remove(blob_path(repo, etag), ec)) ++removed;
    fs::remove(blob_stamp_path(repo, etag), ec);
  }
  drop_if_empty(repo);
  return removed;
}

std::vector<fs::path> HfCache::remove_stale_incomplete(bool dry_run) const {
  std::vector<fs::path> out;
  const int64_t now = now_seconds();
  for (const auto& r : scan()) {
    for (const auto& name : r.incomplete) {
      const fs::path p = r.dir / "blobs" / name;
      std::error_code ec;
      if (ends_with(name, kIncomplete)) {
        const std::string etag = name.substr(0, name.size() - std::string(kIncomplete).size());
        const fs::path target = lock_target(r.repo, etag);
        const bool has_lock = fs::exists(target.string() + ".lock", ec);
        if (!has_lock && now - mtime_seconds(p) < kLocklessGraceSeconds) continue;
        TryEntryLock lock(target);
        if (!lock.acquired()) continue;  // a download in progress
        if (!dry_run) {
          fs::remove(p, ec);
          fs::remove(fs::path(target.string() + ".incomplete.meta"), ec);
        }
        out.push_back(p);
      } else {
        SideFile f;
        f.kind = SideKind::Temporary;
        f.file_name = name;
        f.path = p;
        // "<etag>.<pid>.<n>.mztmp": the pid is the second number from the end.
        const std::string stem = name.substr(0, name.rfind(".mztmp"));
        const auto n_dot = stem.rfind('.');
        const auto pid_dot = n_dot == std::string::npos || n_dot == 0 ? std::string::npos : stem.rfind('.', n_dot - 1);
        if (pid_dot != std::string::npos) f.owner_pid = std::atol(stem.substr(pid_dot + 1, n_dot - pid_dot - 1).c_str());
        f.mtime_ns = mtime_seconds(p) * 1000000000LL;
        if (!is_abandoned_temporary(f, now * 1000000000LL)) continue;
        if (!dry_run) fs::remove(p, ec);
        out.push_back(p);
      }
    }
  }
  return out;
}

std::vector<fs::path> HfCache::remove_unreferenced_blobs(bool dry_run) const {
  std::vector<fs::path> out;
  for (const auto& r : scan()) {
    for (const auto& etag : r.unreferenced_blobs) {
      const fs::path p = r.dir / "blobs" / etag;
      if (dry_run) {
        out.push_back(p);
        continue;
      }
      EntryLock lock(lock_target(r.repo, etag));
      std::error_code ec;
      if (fs::remove(p, ec)) out.push_back(p);
      fs::remove(blob_stamp_path(r.repo, etag), ec);
    }
  }
  return out;
}

std::vector<fs::path> HfCache::remove_stale_locks(bool dry_run) const {
  std::vector<fs::path> out;
  const fs::path locks = root_ / ".locks";
  std::error_code ec;
  for (const auto& folder : fs::directory_iterator(locks, ec)) {
    const std::string repo = repo_of_folder(folder.path().filename().string());
    if (repo.empty() || !folder.is_directory()) continue;
    const fs::path blobs = folder.path().parent_path().parent_path() / folder.path().filename() / "blobs";
    std::vector<fs::path> files;
    std::error_code e2;
    for (const auto& e : fs::directory_iterator(folder.path(), e2)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      const std::string name = p.filename().string();
      std::error_code e3;
      if (ends_with(name, ".lock")) {
        const fs::path target = p.parent_path() / name.substr(0, name.size() - 5);
        TryEntryLock lock(target);
        if (!lock.acquired()) continue;  // held by a running download
        if (!dry_run) fs::remove(p, e3);  // unlinked while holding it
        out.push_back(p);
      } else if (ends_with(name, ".mzstamp")) {
        const std::string etag = name.substr(0, name.size() - 8);
        if (fs::exists(blobs / etag, e3)) continue;
        if (!dry_run) fs::remove(p, e3);
        out.push_back(p);
      } else if (ends_with(name, ".incomplete.meta")) {
        const std::string etag = name.substr(0, name.size() - std::string(".incomplete.meta").size());
        if (fs::exists(blobs / (etag + kIncomplete), e3)) continue;
        TryEntryLock lock(p.parent_path() / etag);
        if (!lock.acquired()) continue;
        if (!dry_run) fs::remove(p, e3);
        out.push_back(p);
      }
    }
    if (!dry_run) remove_empty_dirs(folder.path(), locks);
  }
  return out;
}

HfStagedBlob HfCache::stage_blob(const std::string& repo, const std::string& etag, const Expectation& expect,
                                 const ByteSource& source, const std::string& label) const {
  const fs::path blob = blob_path(repo, etag);
  Expectation want = expect;
  const bool lfs = etag.size() == 64 && is_lower_hex(etag);
  if (lfs) {
    if (!want.sha256.empty() && !digest_matches(want, etag)) {
      throw HashMismatchError("sha256 mismatch for " + label + ": the blob is named " + etag +
                              " (its SHA-256), but " + want.sha256 + " is expected; nothing was written to " +
                              blob.string());
    }
    want.sha256 = etag;
    want.sha256_is_prefix = false;
  }
  // Staged through the torch.hub-layout code with blobs/ as its root: the
  // same hashing, size checks and cleanup; published by HfStagedBlob, under
  // the Hub's lock (StagedFile::publish, which would use `staging`, is never called).
  const Cache staging(CacheOptions{blob.parent_path(), {}});
  HfStagedBlob out;
  out.cache_ = this;
  out.repo_ = repo;
  out.etag_ = etag;
  out.staged_ = stage_verified(staging, etag, want, source, label);
  return out;
}

fs::path HfStagedBlob::publish() {
  const fs::path temp = staged_.temp();
  const fs::path& target = staged_.target();
  if (temp.empty() || cache_ == nullptr) {
    throw CacheError("cannot publish " + target.string() + ": nothing staged (already published?)");
  }
  const fs::path lock_target = cache_->lock_target(repo_, etag_);
  EntryLock lock(lock_target);
  std::error_code ec;
  fs::remove(cache_->blob_stamp_path(repo_, etag_), ec);
  fs::rename(temp, target, ec);
  if (ec) {
    throw CacheError("cannot move the verified " + temp.string() + " to " + target.string() + ": " + ec.message());
  }
  staged_.release();  // moved into place: the temporary is no longer ours to remove
  fs::remove(fs::path(target.string() + kIncomplete), ec);
  fs::remove(fs::path(lock_target.string() + ".incomplete.meta"), ec);
  if (etag_ == staged_.sha256()) cache_->stamp_blob(repo_, etag_, staged_.sha256());
  return target;
}

}  // namespace modelzoo::cache
