#include "io/dtypes.h"

#include <string>

namespace modelzoo::io::detail {

namespace {

struct StorageName {
  const char* name;
  c10::ScalarType dtype;
};

constexpr StorageName kStorages[] = {
    {"FloatStorage", c10::ScalarType::Float},
    {"DoubleStorage", c10::ScalarType::Double},
    {"HalfStorage", c10::ScalarType::Half},
    {"BFloat16Storage", c10::ScalarType::BFloat16},
    {"LongStorage", c10::ScalarType::Long},
    {"IntStorage", c10::ScalarType::Int},
    {"ShortStorage", c10::ScalarType::Short},
    {"CharStorage", c10::ScalarType::Char},
    {"ByteStorage", c10::ScalarType::Byte},
    {"BoolStorage", c10::ScalarType::Bool},
    {"ComplexFloatStorage", c10::ScalarType::ComplexFloat},
    {"ComplexDoubleStorage", c10::ScalarType::ComplexDouble},
    {"UntypedStorage", c10::ScalarType::Byte},
};

struct DtypeName {
  const char* name;
  c10::ScalarType dtype;
};

constexpr DtypeName kDtypes[] = {
    {"float32", c10::ScalarType::Float},         {"float", c10::ScalarType::Float},
    {"float64", c10::ScalarType::Double},        {"double", c10::ScalarType::Double},
    {"float16", c10::ScalarType::Half},          {"half", c10::ScalarType::Half},
    {"bfloat16", c10::ScalarType::BFloat16},     {"int64", c10::ScalarType::Long},
    {"long", c10::ScalarType::Long},             {"int32", c10::ScalarType::Int},
    {"int", c10::ScalarType::Int},               {"int16", c10::ScalarType::Short},
    {"short", c10::ScalarType::Short},           {"int8", c10::ScalarType::Char},
    {"uint8", c10::ScalarType::Byte},            {"bool", c10::ScalarType::Bool},
    {"complex32", c10::ScalarType::ComplexHalf}, {"complex64", c10::ScalarType::ComplexFloat},
    {"cfloat", c10::ScalarType::ComplexFloat},   {"complex128", c10::ScalarType::ComplexDouble},
    {"cdouble", c10::ScalarType::ComplexDouble},
};

}  // namespace

std::optional<c10::ScalarType> storage_class_dtype(std::string_view qualified_name) {
  std::string_view name;
  if (qualified_name.rfind("torch.cuda.", 0) == 0) {
    name = qualified_name.substr(11);
  } else if (qualified_name.rfind("torch.storage.", 0) == 0) {
    name = qualified_name.substr(14);
    if (name != "UntypedStorage") return std::nullopt;
  } else if (qualified_name.rfind("torch.", 0) == 0) {
    name = qualified_name.substr(6);
  } else {
    return std::nullopt;
  }
  for (const auto& s : kStorages) {
    if (name == s.name) return s.dtype;
  }
  return std::nullopt;
}

const char* storage_class_name(c10::ScalarType t) {
  for (const auto& s : kStorages) {
    if (s.dtype == t && std::string_view(s.name) != "UntypedStorage") return s.name;
  }
  return nullptr;
}

std::optional<c10::ScalarType> dtype_global(std::string_view qualified_name) {
  if (qualified_name.rfind("torch.", 0) != 0) return std::nullopt;
  std::string_view name = qualified_name.substr(6);
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.dtype;
  }
  return std::nullopt;
}

const char* dtype_name(c10::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.dtype == t) return d.name;
  }
  return c10::toString(t);
}

bool supported_dtype(c10::ScalarType t) {
  for (const auto& s : kStorages) {
    if (s.dtype == t) return true;
  }
  return false;
}

}  // namespace modelzoo::io::detail
