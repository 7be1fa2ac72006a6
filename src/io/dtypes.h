#pragma once
// Names PyTorch pickles give dtypes and storage classes, and the dtypes
// this library reads and writes.

#include <optional>
#include <string_view>

#include <c10/core/ScalarType.h>

namespace modelzoo::io::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "modelzoo's readers assume a little-endian host");

// "torch.FloatStorage", "torch.cuda.HalfStorage", "torch.UntypedStorage" -> dtype.
std::optional<c10::ScalarType> storage_class_dtype(std::string_view qualified_name);
// dtype -> "FloatStorage" (the class name under `torch.`); null when none exists.
const char* storage_class_name(c10::ScalarType t);
// "torch.float16", "torch.half", ... -> dtype.
std::optional<c10::ScalarType> dtype_global(std::string_view qualified_name);
// dtype -> "float16" (Python's name without `torch.`).
const char* dtype_name(c10::ScalarType t);
// Whether the readers support storages of this dtype.
bool supported_dtype(c10::ScalarType t);

}  // namespace modelzoo::io::detail
