#pragma once
// Internal to the io stage: the unpickler's "ran out of input" error, so a
// reader that hands it a window of a file can retry with a larger window.

#include "modelzoo/error.h"

namespace modelzoo::io::detail {

// A pickle ended before its STOP opcode (truncated input).
class PickleTruncated : public FormatError {
 public:
  using FormatError::FormatError;
};

}  // namespace modelzoo::io::detail
