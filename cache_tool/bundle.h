#pragma once
/// \file
/// Bundles: a ustar archive holding `manifest.json` (first) and the weight
/// files, each under its plain cache file name. The manifest says what every
/// file is, so the receiving side can verify it before it enters the cache:
///
/// ```json
/// {
///   "format": "modelzoo-bundle",
///   "format_version": 1,
///   "created_by": "cache_tool 0.1.0",
///   "created": "2024-05-01T12:00:00Z",
///   "files": [
///     {"name": "vgg19-dcbb9e9d.pth", "size": 574673361, "sha256": "dcbb9e9d…",
///      "entries": [{"model": "vgg19", "tag": "IMAGENET1K_V1", "default": true,
///                   "url": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"}]}
///   ],
///   "registry": null
/// }
/// ```
/// Hub entries (the Hugging Face Hub's cache, cache/hf_cache.h) travel in an
/// optional `"hub"` list, one item per repository: its blobs (members named
/// `hub/models--ORG--NAME/<etag>`), the snapshot files that point at them,
/// and the refs naming the packed commits:
/// ```json
///   "hub": [{"repo": "timm/resnet50.a1_in1k", "refs": {"main": "0c5e…"},
///            "blobs": [{"etag": "9f1c…", "size": 102170000, "sha256": "9f1c…"}],
///            "snapshots": [{"commit": "0c5e…", "path": "model.safetensors", "etag": "9f1c…"}]}]
/// ```
/// `registry` is null when every packed entry is in the built-in registry,
/// else a registry document (registry/README.md) defining the packed entries
/// that came from user registries. URLs are sanitised (no credentials, no
/// query tokens).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.h"

namespace cache_tool::bundle {

/// Name of the manifest member.
inline constexpr const char* kManifestName = "manifest.json";
/// Value of the manifest's "format" field.
inline constexpr const char* kFormat = "modelzoo-bundle";
/// Manifest version this tool writes and reads.
inline constexpr int kFormatVersion = 1;
/// Largest manifest member accepted.
inline constexpr uint64_t kMaxManifestBytes = 16ull << 20;

/// One registry entry a file serves.
struct Use {
  std::string model;     ///< model name
  std::string tag;       ///< weights tag
  std::string url;       ///< sanitised URL
  bool is_default = false;  ///< the model's default tag
};

/// One weight file in the bundle.
struct File {
  std::string name;      ///< member name == cache file name
  uint64_t size = 0;     ///< bytes
  std::string sha256;    ///< full digest, lower-case hex
  std::vector<Use> uses; ///< at least one
};

/// One blob of a Hub repository.
struct HubBlob {
  std::string etag;    ///< blob name (a 64-hex etag is the SHA-256)
  uint64_t size = 0;
  std::string sha256;  ///< full digest of the bytes
};

/// One snapshot file: `snapshots/<commit>/<path>` -> `blobs/<etag>`.
struct HubSnapshotFile {
  std::string commit, path, etag;
};

/// The packed part of one Hub repository.
struct HubRepo {
  std::string repo;                            ///< ORG/NAME
  std::map<std::string, std::string> refs;     ///< ref name -> commit
  std::vector<HubBlob> blobs;
  std::vector<HubSnapshotFile> snapshots;
};

/// The tar member name of a Hub blob: "hub/models--ORG--NAME/<etag>".
std::string hub_member_name(const std::string& repo, const std::string& etag);

/// The manifest.
struct Manifest {
  std::string created_by;  ///< "cache_tool <version>"
  std::string created;     ///< ISO 8601 UTC
  std::vector<File> files;
  std::vector<HubRepo> hub;  ///< Hub entries (may be empty)
  nlohmann::json registry;  ///< null, or a registry document (format_version 1)
};

/// The manifest as JSON (the layout in the file comment).
nlohmann::json to_json(const Manifest& m);

/// Parses and checks a manifest: known fields only, right types, safe file
/// names, 64-hex digests, no duplicate names; Hub entries with valid
/// repository ids, commits, paths and etags, every snapshot file's blob
/// listed, an LFS blob's sha256 equal to its etag. Throws modelzoo::FormatError
/// "<origin>: <field>: expected …, got …".
Manifest parse_manifest(const std::string& text, const std::string& origin);

/// A registry document defining the weights entries among `targets` that do
/// not come unchanged from the built-in registry (null when there are none).
/// It is checked with registry::parse_registry before it is returned.
nlohmann::json registry_fragment(const mz::registry::Registry& registry, const std::vector<Target>& targets);

/// True when `w` (of `model`) is exactly the built-in registry's entry.
bool is_builtin(const std::string& model, const mz::registry::WeightsEntry& w);

}  // namespace cache_tool::bundle
