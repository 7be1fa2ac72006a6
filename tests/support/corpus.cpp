#include "support/corpus.h"

#include <cstdlib>
#include <system_error>

namespace mz_test {

namespace fs = std::filesystem;

fs::path corpus_dir() {
  const char* v = std::getenv("MODELZOO_CORPUS_DIR");
  if (v != nullptr && *v != '\0') return fs::path(v);
  return fs::path(MZ_CORPUS_DIR).lexically_normal();
}

std::string corpus_missing() {
  const fs::path dir = corpus_dir();
  for (const char* sub : {"real", "expected"}) {
    std::error_code ec;
    if (!fs::is_directory(dir / sub, ec)) {
      return "the shared corpus is not here: no directory " + (dir / sub).string() +
             " (set MODELZOO_CORPUS_DIR to the corpus directory to run this test)";
    }
  }
  return "";
}

}  // namespace mz_test
