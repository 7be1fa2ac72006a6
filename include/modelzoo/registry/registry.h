#pragma once
/// \file
/// The model registry: JSON files that map a model name (`vgg19`) to its
/// architecture and its weights entries (`IMAGENET1K_V1` -> URL, SHA-256,
/// size, file name, transforms, metadata). The schema is documented in
/// registry/README.md.
///
/// Layers, later ones overriding earlier ones entry by entry:
/// the built-in registry (embedded in the library) < user files
/// (MODELZOO_REGISTRY, `--registry`) < per-call overrides in the hub.
/// A later document merges into an existing model per weights tag and per
/// field: for a tag an earlier layer defines, each field the document gives
/// replaces that field and the others are kept (`transforms` and `meta` merge
/// key by key; a new `url` brings its own file name, a new hash drops the old
/// size and confidences); new tags are appended, tags it does not name are
/// kept; `arch` and `default` are replaced only when given.
/// Loading a file is all-or-nothing: an invalid file leaves the registry as
/// it was and throws RegistryError naming the file and the JSON path.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace modelzoo::registry {

/// The registry document version this library reads (`"format_version": 1`).
inline constexpr int kFormatVersion = 1;

/// The tasks a model entry may name in its `task` field.
inline const char* const kTasks[] = {"classification", "detection", "segmentation", "video",
                                     "optical_flow"};

/// Preprocessing that the weights were trained with (torchvision's
/// ImageClassification preset, plus what caffe-converted weights need).
struct Transforms {
  int64_t resize_size = 256;       ///< shorter side is resized to this
  int64_t crop_size = 224;         ///< then centre-cropped to crop_size x crop_size
  std::string interpolation = "bilinear";  ///< "bilinear" | "bicubic" | "nearest"
  std::array<double, 3> mean{0.485, 0.456, 0.406};  ///< per channel, subtracted after scaling
  std::array<double, 3> std{0.229, 0.224, 0.225};   ///< per channel, divided by after the mean
  double value_scale = 1.0;        ///< pixel values are in [0, value_scale] (255 for caffe)
  std::string channel_order = "RGB";  ///< "RGB" | "BGR"
};

/// Expected SHA-256: a full 64-hex digest, or a prefix (torch.hub's check of
/// the hash embedded in a file name such as vgg11-8a719046.pth).
struct HashSpec {
  std::string hex;         ///< lower-case hex; 64 chars when full
  bool is_prefix = false;  ///< true when only a prefix is publicly known
  /// True when `full_hex` (a 64-char digest, either case) satisfies this
  /// spec. An empty spec matches nothing: callers check empty() first.
  bool matches(const std::string& full_hex) const;
  /// True when no hash is known at all.
  bool empty() const { return hex.empty(); }
};

/// One weights entry of a model (torchvision's `Weights` enum member).
struct WeightsEntry {
  std::string tag;          ///< e.g. "IMAGENET1K_V1"
  std::string url;          ///< http://, https:// or file:// URL
  HashSpec sha256;          ///< what the downloaded file must hash to
  std::optional<uint64_t> size;  ///< bytes, when publicly known
  /// How many public sources back a full `sha256`: "multiple_sources",
  /// "single_source", or empty (a prefix, or a value from a user's registry).
  std::string hash_confidence;
  /// The same for `size`.
  std::string size_confidence;
  std::string file_name;    ///< cache file name; defaults to the URL's basename
  Transforms transforms;    ///< preprocessing the weights expect
  std::vector<std::string> categories;  ///< class names, index = logit index; empty when unknown
  nlohmann::json meta = nlohmann::json::object();  ///< num_params, metrics, recipe, min_size, arch_options, ...
};

/// One registered model: architecture + its weights.
struct ModelEntry {
  std::string name;         ///< e.g. "vgg19"
  std::string arch;         ///< architecture builder name (usually == name)
  std::string default_tag;  ///< tag that "DEFAULT" / pretrained=true resolves to
  /// What the model does: "classification" (the default), "detection",
  /// "segmentation", "video" or "optical_flow" (see kTasks).
  std::string task = "classification";
  std::vector<WeightsEntry> weights;  ///< in file order
  std::string origin;       ///< file the (last) definition came from

  /// The entry for `tag` ("DEFAULT" resolves to default_tag), or nullptr.
  const WeightsEntry* find_weights(const std::string& tag) const;
  /// As find_weights, but throws RegistryError listing the known tags.
  const WeightsEntry& require_weights(const std::string& tag) const;
  /// The tags in file order.
  std::vector<std::string> tags() const;
};

/// Named category tables (`"imagenet1k"` -> 1000 class names) that weights
/// entries refer to by name.
using CategoryTables = std::map<std::string, std::vector<std::string>>;

/// An immutable-once-built set of model entries.
class Registry {
 public:
  /// An empty registry.
  Registry() = default;
  /// The built-in registry embedded in the library (parsed once per process).
  /// Its categories.json is loaded first, then the other files in name order.
  static Registry builtin();
  /// builtin() plus the files named by MODELZOO_REGISTRY (':'-separated), in order.
  static Registry from_env();
  /// builtin() plus `files`, in order (what from_env() and `--registry` use).
  static Registry with_files(const std::vector<std::filesystem::path>& files);

  /// Adds/overrides entries from a JSON file. All-or-nothing.
  void add_file(const std::filesystem::path& file);
  /// Adds/overrides entries from JSON text; `origin` names it in errors.
  /// All-or-nothing. Returns the names of the models the document defines.
  std::vector<std::string> add_json(const std::string& text, const std::string& origin);
  /// Adds or replaces one entry as a whole (per-call overrides). Validates
  /// it first; an empty arch defaults to the name, an empty default_tag to
  /// the first tag, an empty file_name to the URL's basename.
  void add_entry(ModelEntry entry);

  /// The model, or nullptr.
  const ModelEntry* find(const std::string& name) const;
  /// The model, or RegistryError naming it and suggesting close names.
  const ModelEntry& require(const std::string& name) const;
  /// All model names, sorted.
  std::vector<std::string> names() const;
  /// Number of models.
  std::size_t size() const { return models_.size(); }

  /// The category table `name` (e.g. "imagenet1k"), or nullptr.
  const std::vector<std::string>* find_categories(const std::string& name) const;
  /// Names of the known category tables, sorted.
  std::vector<std::string> category_table_names() const;

 private:
  std::map<std::string, ModelEntry> models_;
  CategoryTables categories_;
};

/// Parses one registry document as it would apply on top of the built-in
/// registry (so it may refer to "imagenet1k" and add tags to built-in
/// models) without adding it anywhere; returns the resulting entries of the
/// models the document names. Used for validation tools. Throws RegistryError.
std::vector<ModelEntry> parse_registry(const std::string& text, const std::string& origin);

/// The hash prefix torch.hub's check_hash reads from a file name: the hex
/// digits after the last '-' that directly precede a '.'
/// ("vgg11-8a719046.pth" -> "8a719046"); empty when there is none.
std::string name_hash_prefix(const std::string& file_name);

/// What to add to a hash or size mismatch error for `model`'s weights `w`
/// (" ..." sentences, or empty). Says when the pinned value rests on a single
/// public source, whether the file's `actual_sha256` (when known) matches the
/// prefix in the file's name, and how to accept the file anyway (`--sha256`
/// with `classify --weights`, Weights::url, or a user registry redefining
/// the tag's "sha256"). The file is refused either way.
std::string pinned_value_advice(const std::string& model, const WeightsEntry& w,
                                const std::string& actual_sha256 = "");

/// `message` (a mismatch error's text) followed by pinned_value_advice(),
/// with the actual digest taken from the message ("got <64 hex>" or
/// "hashes to <64 hex>") when it names one.
std::string explain_mismatch(const std::string& model, const WeightsEntry& w, const std::string& message);

/// The registry files (`*.json`) directly in `dir` whose "models" object
/// names `model`, sorted; empty when there are none or `dir` does not
/// exist. Files that are not JSON objects are skipped (nothing is applied).
std::vector<std::filesystem::path> files_defining(const std::string& model, const std::filesystem::path& dir);

/// Checks a cache file name: non-empty, at most 255 bytes, no '/', '\\',
/// "..", control characters.
bool is_safe_file_name(const std::string& name);

/// Checks a model, tag or category-table name: the same rules as file names.
bool is_safe_name(const std::string& name);

/// Up to `max` of `candidates` closest to `name` (edit distance, prefixes),
/// best first; empty when nothing is reasonably close.
std::vector<std::string> suggest_names(const std::string& name,
                                       const std::vector<std::string>& candidates,
                                       std::size_t max = 3);

}  // namespace modelzoo::registry
