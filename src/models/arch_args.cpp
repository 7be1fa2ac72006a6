// ArchArgs::extra helpers declared in modelzoo/models/catalog.h.
#include <algorithm>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"

namespace modelzoo::models {

void check_extra_keys(const ArchArgs& args, const std::string& arch,
                      const std::vector<std::string>& known) {
  if (args.extra.is_null()) return;
  if (!args.extra.is_object()) {
    throw Error(arch + ": extra arguments must be a JSON object, got " + args.extra.dump());
  }
  for (const auto& item : args.extra.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(arch + ": unknown extra argument '" + item.key() + "' (accepted: " +
                  (list.empty() ? "none" : list) + ")");
    }
  }
}

double extra_number(const ArchArgs& args, const std::string& arch, const std::string& key,
                    double fallback) {
  if (!args.extra.is_object() || !args.extra.contains(key)) return fallback;
  const auto& v = args.extra.at(key);
  if (!v.is_number()) {
    throw Error(arch + ": extra argument '" + key + "' must be a number, got " + v.dump());
  }
  return v.get<double>();
}

bool extra_bool(const ArchArgs& args, const std::string& arch, const std::string& key,
                bool fallback) {
  if (!args.extra.is_object() || !args.extra.contains(key)) return fallback;
  const auto& v = args.extra.at(key);
  if (!v.is_boolean()) {
    throw Error(arch + ": extra argument '" + key + "' must be true or false, got " + v.dump());
  }
  return v.get<bool>();
}

}  // namespace modelzoo::models
