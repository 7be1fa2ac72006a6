// A main() for a fuzz target outside libFuzzer (the normal build, ctest label
// `fuzz`): runs the target's seeds, the files named on the command line
// (directories: their regular files up to 1 MiB; a missing directory is
// skipped with a note) and then --runs deterministic mutations of them (bit
// flips, interesting values, inserted, deleted and duplicated ranges,
// truncation, splices). A crash, sanitizer report or escaping exception ends
// the process with a failure; the inputs that ran are counted.
//
// Usage: fuzz_<name>_replay [--runs N] [--seed S] [--write-seeds DIR] [FILE|DIR]...
//   --write-seeds DIR  writes the seeds as DIR/seed_<i> and exits (scripts/fuzz.sh
//                      seeds libFuzzer's corpus with them)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_target.h"

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxFileBytes = 1ull << 20;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string mutate(const std::vector<std::string>& pool, std::mt19937_64& rng) {
  auto pick = [&](uint64_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  std::string s = pool[pick(pool.size())];
  const int steps = 1 + static_cast<int>(pick(4));
  static const uint64_t kInteresting[] = {0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                          0x8000000000000000ull, ~0ull};
  for (int k = 0; k < steps; ++k) {
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // a random byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 2: {  // an interesting little-endian integer of 1, 2, 4 or 8 bytes
        const std::size_t width = std::size_t{1} << pick(4);
        if (s.size() < width) break;
        const uint64_t v = kInteresting[pick(sizeof kInteresting / sizeof kInteresting[0])];
        std::memcpy(&s[pick(s.size() - width + 1)], &v, width);
        break;
      }
      case 3: {  // insert random bytes
        std::string ins(1 + pick(16), '\0');
        for (auto& c : ins) c = static_cast<char>(rng());
        s.insert(pick(s.size() + 1), ins);
        break;
      }
      case 4:  // delete a range
        if (!s.empty()) {
          const std::size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<std::size_t>(64, s.size() - at)));
        }
        break;
      case 5:  // duplicate a range
        if (!s.empty() && s.size() < kMaxFileBytes) {
          const std::size_t at = pick(s.size());
          const std::size_t n = 1 + pick(std::min<std::size_t>(256, s.size() - at));
          s.insert(pick(s.size() + 1), s.substr(at, n));
        }
        break;
      case 6:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      default: {  // splice: this input's head, another's tail
        const std::string& other = pool[pick(pool.size())];
        const std::size_t cut = pick(s.size() + 1);
        s = s.substr(0, cut) + other.substr(std::min(cut, other.size()));
        break;
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 1000, seed = 1;
  std::string write_seeds;
  std::vector<std::string> pool = mz_fuzz_seeds();
  const std::size_t seeds = pool.size();
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--runs" || a == "--seed" || a == "--write-seeds") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--runs") runs = std::stoull(v);
      else if (a == "--seed") seed = std::stoull(v);
      else write_seeds = v;
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(a, ec)) {
        if (e.is_regular_file(ec) && e.file_size(ec) <= kMaxFileBytes) {
          pool.push_back(read_file(e.path()));
          ++files;
        }
      }
    } else if (fs::is_regular_file(a, ec)) {
      pool.push_back(read_file(a));
      ++files;
    } else {
      std::printf("%s: skipping %s (not present)\n", argv[0], a.c_str());
    }
  }
  if (!write_seeds.empty()) {
    fs::create_directories(write_seeds);
    for (std::size_t i = 0; i < seeds; ++i) {
      std::ofstream(fs::path(write_seeds) / ("seed_" + std::to_string(i)), std::ios::binary) << pool[i];
    }
    std::printf("%s: wrote %zu seeds to %s\n", argv[0], seeds, write_seeds.c_str());
    return 0;
  }
  if (pool.empty()) pool.emplace_back();
  for (const auto& input : pool) run(input);
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < runs; ++i) run(mutate(pool, rng));
  std::printf("%s: %llu executions (%zu seeds, %zu files, %llu mutations, seed %llu), no crash\n", argv[0],
              static_cast<unsigned long long>(pool.size() + runs), seeds, files, static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(seed));
  return 0;
}
