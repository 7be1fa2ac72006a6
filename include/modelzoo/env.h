#pragma once
/// \file
/// Reading the environment at the edge. Library code never calls getenv
/// itself: the `from_env()` constructors of the option structs use these
/// helpers once, and everything else receives plain structs.

#include <optional>
#include <string>
#include <vector>

namespace modelzoo::env {

/// The variable's value, or nullopt when it is unset or empty.
std::optional<std::string> get(const char* name);

/// Splits `value` at `sep`, dropping empty pieces ("a::b" -> {"a", "b"}).
std::vector<std::string> split(const std::string& value, char sep);

/// True for "1", "true", "yes", "on" (case-insensitive).
bool truthy(const std::optional<std::string>& value);

}  // namespace modelzoo::env
