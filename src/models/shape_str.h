#pragma once
// Internal to the models stage: a tensor shape as error messages print it.
#include <cstddef>
#include <sstream>
#include <string>

#include <c10/util/ArrayRef.h>

namespace modelzoo::models {

/// "[1, 3, 224, 224]".
inline std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

}  // namespace modelzoo::models
