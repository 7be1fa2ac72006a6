#include <unistd.h>

#include <fstream>

#include "seeds.h"

namespace mz_fuzz {

const std::filesystem::path& scratch_file(const std::string& bytes) {
  static const std::filesystem::path path = [] {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                                               : std::filesystem::temp_directory_path();
    return dir / ("mz_fuzz_" + std::to_string(::getpid()) + ".bin");
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } cleanup;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace mz_fuzz
