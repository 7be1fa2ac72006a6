#pragma once
// Internal: parsing and validating registry documents. The merge into a
// Registry (and therefore the override rules) lives in registry.cpp.
#include <functional>
#include <string>
#include <vector>

#include "modelzoo/registry/registry.h"

namespace modelzoo::registry::detail {

/// One model as a document states it, before merging with earlier layers.
struct ParsedModel {
  ModelEntry entry;          ///< name, weights, origin; arch/default_tag empty when not given
  bool has_arch = false;     ///< "arch" was given
  bool has_task = false;     ///< "task" was given
  bool has_default = false;  ///< "default" was given
  bool has_weights = false;  ///< "weights" was given
};

/// One parsed, validated document.
struct ParsedDocument {
  CategoryTables categories;        ///< tables the document defines
  std::vector<ParsedModel> models;  ///< in document order
};

/// The entry an earlier layer defines for (model, tag), or nullptr.
using EarlierWeights = std::function<const WeightsEntry*(const std::string& model, const std::string& tag)>;

/// Parses and validates `text`. Category references resolve against the
/// document's own tables first, then `known`. A tag that `earlier` knows is
/// parsed on top of that entry (fields not given are kept, so `url` and the
/// hash are required only for new tags). Throws RegistryError
/// "<origin>: <JSON pointer>: <what was expected>, got <what was found>".
ParsedDocument parse_document(const std::string& text, const std::string& origin,
                              const CategoryTables& known, const EarlierWeights& earlier = {});

/// Validates a complete entry built in code and fills its defaults (arch,
/// default_tag, file names). Errors use the same paths as a document would.
void validate_entry(ModelEntry& entry, const std::string& origin);

/// "<origin>: <pointer>: <message>" as a RegistryError.
[[noreturn]] void fail(const std::string& origin, const std::string& pointer,
                       const std::string& message);

/// Appends one RFC 6901 reference token ('~' and '/' escaped) to `pointer`.
std::string child(const std::string& pointer, const std::string& token);

/// `s` as a JSON string literal, shortened when long (for messages).
std::string quote(const std::string& s);

/// Joins names with ", " (for "known: ..." lists).
std::string join(const std::vector<std::string>& names, const std::string& sep = ", ");

}  // namespace modelzoo::registry::detail
