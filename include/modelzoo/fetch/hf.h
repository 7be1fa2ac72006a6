#pragma once
/// \file
/// Files from the Hugging Face Hub: `hf://ORG/NAME[@REVISION]/PATH`, fetched
/// with the Hub's HTTP protocol into the Hub's own cache (cache/hf_cache.h),
/// as huggingface_hub's `hf_hub_download` does, so Python, JavaScript and
/// C++ share the downloads.
///
/// Resolution: `HEAD {endpoint}/{ORG/NAME}/resolve/{revision}/{path}` with
/// `Accept-Encoding: identity` and, when a token is known, `Authorization:
/// Bearer <token>`. Redirects to the same origin (a renamed repository) are
/// followed; a redirect to another origin (the CDN holding LFS files) is not:
/// its answer carries the file's identity and its Location is downloaded
/// without the Authorization header. The answer gives the commit
/// (`X-Repo-Commit`), the ETag (`X-Linked-Etag`, else `ETag`, with `W/` and
/// the quotes removed: for an LFS file the SHA-256 of its content) and the
/// size (`X-Linked-Size`, else `Content-Length` of a non-redirect answer).
/// A revision that is a 40-hex commit whose snapshot entry is cached is
/// answered without any request; offline (HF_HUB_OFFLINE, MODELZOO_OFFLINE)
/// a branch or tag resolves through `refs/` and nothing touches the network.
///
/// Download: the blob `blobs/<etag>` is written under huggingface_hub's lock
/// (`.locks/models--ORG--NAME/<etag>.lock`) into `blobs/<etag>.incomplete`
/// (resumed by a later run: the resume record, keyed by the ETag, lies in
/// `.locks/`), with the fetch stage's retries, parallel ranges and
/// streaming SHA-256: an ETag of 64 hex digits must equal the content's
/// SHA-256 before the file is renamed to its blob name. Then `refs/<revision>`
/// (branch and tag names only) and the relative snapshot link are written.
/// A blob that is missing, damaged (its SHA-256 differs from its name) or
/// whose size differs from the Hub's is downloaded again, and a broken
/// snapshot link is replaced.
///
/// Errors say which case it is: a gated repository (401/403 with
/// `X-Error-Code: GatedRepo`), a repository that does not exist or is private
/// (401 / `RepoNotFound`, naming whether a token was sent), a missing
/// revision (`RevisionNotFound`) or file (`EntryNotFound`, or 404). When the
/// Hub cannot be asked (network failure, 5xx after the retries, 401/403) a
/// file the cache holds for that revision (through refs/) is used instead,
/// with a warning, as huggingface_hub does; a missing revision or file is
/// never answered from the cache.

#include <string>

#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/fetch/fetch.h"

namespace modelzoo::fetch {

/// A file in a Hub model repository.
struct HubFile {
  std::string repo;               ///< "ORG/NAME"
  std::string revision = "main";  ///< branch, tag or 40-hex commit
  std::string path;               ///< path inside the repository ("model.safetensors")

  /// Parses `hf://ORG/NAME[@REVISION]/PATH` (a '/' in the revision written
  /// as %2F, e.g. `@refs%2Fpr%2F1`). Throws FetchError naming the text.
  static HubFile parse(const std::string& uri);
  /// The canonical `hf://` form (revision omitted when it is "main").
  std::string uri() const;
  /// `{endpoint}/{repo}/resolve/{revision}/{path}`, percent-encoded as huggingface_hub does.
  std::string resolve_url(const std::string& endpoint) const;
};

/// True when `text` starts with "hf://".
bool is_hub_uri(const std::string& text);

/// What fetch_hub_file did, beyond FetchResult (whose `path` is the snapshot
/// entry, `snapshots/<commit>/<path>`, a symlink to the blob).
struct HubFetchResult : FetchResult {
  std::string commit;          ///< the commit the revision resolved to
  std::string etag;            ///< the file's normalised ETag (its blob name)
  std::filesystem::path blob;  ///< the blob the snapshot entry points at
  bool from_cache = false;     ///< found without a download (commit pin, offline, or already cached)
  bool resolved_offline = false;  ///< no request at all was made
};

/// Returns the cached file for `file`, resolving and downloading it as
/// described above. `expect` may pin a SHA-256 and size (a registry entry's);
/// they must agree with what the Hub announces and with the file. `label`
/// names the request in messages. Throws FetchError, HashMismatchError or
/// CacheError saying which repository, revision, file, endpoint and path.
HubFetchResult fetch_hub_file(const HubFile& file, const cache::HfCache& cache, const FetchOptions& options,
                              const cache::Expectation& expect = {}, const std::string& label = "");

}  // namespace modelzoo::fetch
