// The restricted unpickler alone, with a persistent loader that hands out
// small storages as the zip reader does.
#include <ATen/ops/zeros.h>

#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "modelzoo/io/unpickler.h"
#include "seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace io = modelzoo::io;
  io::UnpickleOptions opt;
  opt.origin = "fuzz.pkl";
  opt.persistent_load = [](const io::Value& pid) -> io::Value {
    if (!pid.is_tuple() || pid.size() < 5 || !pid.items()[4].is_int()) throw modelzoo::FormatError("bad pid");
    const int64_t n = pid.items()[4].as_int();
    if (n < 0 || n > 4096) throw modelzoo::FormatError("storage too large");
    return io::Value(at::zeros({n}));
  };
  try {
    io::unpickle(std::string_view(reinterpret_cast<const char*>(data), size), opt);
  } catch (const modelzoo::Error&) {
  }
  return 0;
}

std::vector<std::string> mz_fuzz_seeds() { return mz_fuzz::pickle_seeds(); }
