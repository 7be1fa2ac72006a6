#pragma once
/// \file
/// The Hugging Face Hub's cache layout, as huggingface_hub (Python) and
/// `@huggingface/hub` (JavaScript) write it, so that a file downloaded by any
/// of them is found by the others:
///
/// ```
/// <root>/                                  HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
///   models--ORG--NAME/
///     blobs/<etag>                         the file's bytes, named by its ETag (the SHA-256 for LFS files,
///                                          the git blob id for small files stored in git)
///     blobs/<etag>.incomplete              a download in progress or interrupted (resumed by the next run)
///     snapshots/<commit>/<path in repo>    relative symlink to ../../blobs/<etag> (one "../" more per
///                                          directory level of the path)
///     refs/<revision>                      the commit a branch or tag name resolved to (no newline);
///                                          never written for a revision that is a commit
///   .locks/models--ORG--NAME/<etag>.lock   the lock huggingface_hub takes (flock) while it downloads a blob
/// ```
///
/// modelzoo adds beside the lock, in `.locks/` (which the Hub's cache
/// scanners skip): `<etag>.mzstamp`, the stamp of a blob whose SHA-256 was
/// checked (size, mtime, digest: a later hit costs a stat), and
/// `<etag>.incomplete.meta`, the resume validators of a partial blob.
///
/// Only model repositories are handled (`models--`). Read-only roots
/// (CacheOptions::readonly_roots, MODELZOO_READONLY_CACHES) may be Hub
/// caches too: a directory holding `models--ORG--NAME` is searched before
/// the writable root and never written.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "modelzoo/cache/cache.h"
#include "modelzoo/cache/publish.h"

namespace modelzoo::cache {

/// The Hub cache root from the environment: HF_HUB_CACHE, else
/// HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
/// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (the order
/// huggingface_hub uses). A leading `~/` is expanded.
std::filesystem::path default_hf_cache_root();

/// True for a full commit id: 40 lower-case hex digits.
bool is_commit_hash(const std::string& revision);

/// huggingface_hub's ETag normalisation: a leading `W/` and the quotes are removed.
std::string normalize_etag(const std::string& etag);

/// Throws CacheError unless `repo` is `ORG/NAME` with the Hub's characters
/// (letters, digits, '-', '_', '.'; neither part empty, starting with '-' or
/// '.', nor containing "--" or ".."; at most 96 characters per part).
void check_repo_id(const std::string& repo);
/// Throws CacheError unless `revision` is a usable branch, tag or commit name
/// (no "..", no empty path segment, no control characters, no backslash).
void check_revision(const std::string& revision);
/// Throws CacheError unless `path` is a relative path inside a repository
/// (no leading '/', no "." or ".." segment, no empty segment, no backslash or control character).
void check_repo_path(const std::string& path);
/// Throws CacheError unless `etag` can name a blob (letters, digits, '-', '_', '.'; not starting with '.').
void check_etag(const std::string& etag);

/// "models--ORG--NAME" (checks the id).
std::string hf_repo_folder(const std::string& repo);

/// One file of a snapshot, as the cache holds it.
struct HfLookup {
  enum class State {
    Absent,      ///< no snapshot entry (or no ref for a branch name)
    Present,     ///< the snapshot entry resolves to a blob
    BrokenLink,  ///< the snapshot entry exists but its blob is gone
  };
  State state = State::Absent;
  std::filesystem::path root;     ///< the cache root it was found in
  bool readonly = false;          ///< found in a read-only root
  std::string commit;             ///< the commit the revision resolved to (empty when unknown)
  std::filesystem::path pointer;  ///< snapshots/<commit>/<path>
  std::filesystem::path blob;     ///< the file the pointer resolves to (Present)
  std::string etag;               ///< the blob's name (Present, when it lies in blobs/)
};

/// What checking a blob against its name found.
enum class BlobCheck {
  Verified,    ///< the SHA-256 equals the name (a stamp said so, or it was hashed now)
  Mismatch,    ///< the SHA-256 differs: the blob is damaged
  Unchecked,   ///< the name is not a SHA-256 (a git blob id): only the size can be checked
};

/// One snapshot file in a listing.
struct HfCachedFile {
  std::string path;                ///< path inside the repository
  std::filesystem::path pointer;   ///< snapshots/<commit>/<path>
  std::string etag;                ///< blob name (empty when broken)
  uint64_t size = 0;               ///< blob size (0 when broken)
  bool broken = false;             ///< the link points at a missing blob
  std::optional<std::string> sha256;  ///< from a valid stamp
};

/// One cached revision of a repository.
struct HfCachedRevision {
  std::string commit;
  std::vector<std::string> refs;   ///< branch / tag names pointing at it
  std::vector<HfCachedFile> files; ///< sorted by path
};

/// One cached repository.
struct HfCachedRepo {
  std::string repo;                              ///< ORG/NAME
  std::filesystem::path dir;                     ///< <root>/models--ORG--NAME
  std::vector<HfCachedRevision> revisions;       ///< sorted by commit
  std::vector<std::string> unreferenced_blobs;   ///< blobs no snapshot points at
  std::vector<std::string> incomplete;           ///< `.incomplete` files in blobs/
  uint64_t blob_bytes = 0;                       ///< bytes of all complete blobs
};

class HfCache;

/// A verified blob waiting in `blobs/` under a temporary name (`.mztmp`), as
/// StagedFile is for the torch.hub layout: several can be verified before any
/// becomes visible. Removed on destruction unless published.
class HfStagedBlob {
 public:
  /// Renames the file to `blobs/<etag>` under huggingface_hub's lock, drops an
  /// `.incomplete` download of the same blob, and stamps a SHA-256 blob.
  /// Returns the blob's path. Throws CacheError naming both paths.
  std::filesystem::path publish();

  const std::filesystem::path& target() const { return staged_.target(); }  ///< blobs/<etag>
  const std::string& sha256() const { return staged_.sha256(); }            ///< of the bytes
  uint64_t size() const { return staged_.size(); }                          ///< bytes

 private:
  friend class HfCache;
  const HfCache* cache_ = nullptr;
  std::string repo_, etag_;
  StagedFile staged_;  ///< the verified temporary file (removed with it unless published)
};

/// Access to a Hub cache (a writable root plus read-only roots). Holds no global state.
class HfCache {
 public:
  /// `root` is written; `readonly_roots` are searched first and never
  /// written; `verify_full` rehashes blobs on every check (MODELZOO_VERIFY=full).
  explicit HfCache(std::filesystem::path root, std::vector<std::filesystem::path> readonly_roots = {},
                   bool verify_full = false);
  /// CacheOptions::hf_root, its read-only roots and verify_full.
  explicit HfCache(const CacheOptions& options);

  const std::filesystem::path& root() const { return root_; }
  const std::vector<std::filesystem::path>& readonly_roots() const { return readonly_roots_; }

  /// <root>/models--ORG--NAME.
  std::filesystem::path repo_dir(const std::string& repo) const;
  /// <root>/models--ORG--NAME/blobs/<etag>.
  std::filesystem::path blob_path(const std::string& repo, const std::string& etag) const;
  /// <root>/models--ORG--NAME/snapshots/<commit>/<path>.
  std::filesystem::path pointer_path(const std::string& repo, const std::string& commit,
                                     const std::string& path) const;
  /// <root>/.locks/models--ORG--NAME/<etag>: EntryLock on it takes huggingface_hub's `<etag>.lock`.
  std::filesystem::path lock_target(const std::string& repo, const std::string& etag) const;
  /// <root>/.locks/models--ORG--NAME/<etag>.mzstamp.
  std::filesystem::path blob_stamp_path(const std::string& repo, const std::string& etag) const;

  /// The commit `refs/<revision>` holds in the writable root (nullopt when absent or not a commit).
  std::optional<std::string> read_ref(const std::string& repo, const std::string& revision) const;
  /// Writes `refs/<revision>` = `commit` atomically, only when it changes.
  /// Does nothing for a revision that is a commit. Throws CacheError naming the file.
  void write_ref(const std::string& repo, const std::string& revision, const std::string& commit) const;

  /// Finds `path` of `revision` without any request: the revision is a commit
  /// or resolves through refs/. Read-only roots first, then the writable
  /// root; the first root with a Present entry wins, else the writable
  /// root's state (a BrokenLink there is reported as such).
  HfLookup find(const std::string& repo, const std::string& revision, const std::string& path) const;

  /// Makes snapshots/<commit>/<path> a relative symlink to blobs/<etag>
  /// (replacing whatever was there, atomically), and creates refs/ when it
  /// is missing (@huggingface/hub's scanner requires the folder). Throws CacheError.
  void link(const std::string& repo, const std::string& commit, const std::string& path,
            const std::string& etag) const;

  /// Checks a blob against its name. A 64-hex name is a SHA-256: a matching
  /// stamp (writable root's `.locks/`) is trusted unless verify_full, else
  /// the file is hashed, and stamped when it matches and lies in the
  /// writable root. `repo` and `etag` locate the stamp.
  BlobCheck check_blob(const std::string& repo, const std::string& etag, const std::filesystem::path& blob) const;
  /// Records that the blob was verified (stamp in `.locks/`); `durable` as Cache::write_stamp.
  void stamp_blob(const std::string& repo, const std::string& etag, const std::string& sha256,
                  bool durable = true) const;

  /// Every model repository of the writable root, sorted by id (an absent
  /// root lists as empty). Repositories without refs/ or snapshots/ are listed too.
  std::vector<HfCachedRepo> scan() const;

  /// Removes a revision (a commit, or a ref name: the commit it names) of
  /// `repo`, or the whole repository when `revision` is empty: the
  /// snapshot, the refs naming it, and the blobs no remaining snapshot uses
  /// (each under its lock). Returns the number of files removed (blobs and
  /// snapshot entries); 0 when there was nothing.
  std::size_t remove(const std::string& repo, const std::string& revision = "") const;

  /// Removes one snapshot file, `snapshots/<commit>/<path>` of `revision` (a
  /// commit, or a ref name: the commit it names), and its blob when no other
  /// snapshot entry points at it (under the blob's lock); directories left
  /// empty go too, the revision's refs when its snapshot is gone, and the
  /// repository folder when no snapshot is left (as huggingface_hub deletes). Returns
  /// the number of files removed (0 when the entry is not there).
  std::size_t remove_file(const std::string& repo, const std::string& revision, const std::string& path) const;

  /// Removes the `.incomplete` blobs nobody is downloading (lock not held),
  /// with their resume records, and temporary files of processes that are
  /// gone; returns their paths (only lists them when `dry_run`).
  std::vector<std::filesystem::path> remove_stale_incomplete(bool dry_run = false) const;
  /// Removes blobs that no snapshot points at (under their locks); returns their paths.
  std::vector<std::filesystem::path> remove_unreferenced_blobs(bool dry_run = false) const;
  /// Removes `.locks/models--*/<etag>.lock` files no process holds (what
  /// huggingface_hub's file locks leave behind), and modelzoo's stamps and
  /// resume records in `.locks/` whose blob or `.incomplete` file is gone.
  /// Returns their paths.
  std::vector<std::filesystem::path> remove_stale_locks(bool dry_run = false) const;

  /// Copies `source` into a temporary file in the repository's `blobs/`,
  /// hashing while copying, and checks it: size and SHA-256 against
  /// `expect`, and a 64-hex `etag` against the content's SHA-256. Throws
  /// HashMismatchError naming `label` (nothing is left behind) or CacheError.
  HfStagedBlob stage_blob(const std::string& repo, const std::string& etag, const Expectation& expect,
                          const ByteSource& source, const std::string& label) const;

 private:
  /// Removes the repository folder (and its locks) once no snapshot is left in it.
  void drop_if_empty(const std::string& repo) const;

  std::filesystem::path root_;
  std::vector<std::filesystem::path> readonly_roots_;
  bool verify_full_ = false;
};

}  // namespace modelzoo::cache
