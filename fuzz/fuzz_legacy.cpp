// The legacy .pth reader (torch.save before 1.6): read_legacy over a piecewise-read
// source (pickles read through a growing window) and over a mapping.
#include "fuzz_target.h"
#include "io/readers.h"
#include "modelzoo/error.h"
#include "seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace d = modelzoo::io::detail;
  for (bool mapped : {false, true}) {
    try {
      d::read_legacy(mapped ? mz_fuzz::mapped_source(data, size) : mz_fuzz::plain_source(data, size), mapped);
    } catch (const modelzoo::Error&) {
    }
  }
  return 0;
}

std::vector<std::string> mz_fuzz_seeds() { return mz_fuzz::legacy_seeds(); }
