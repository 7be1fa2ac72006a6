#pragma once
/// \file
/// What every fuzz target provides. A target is one `fuzz_<name>.cpp` with
/// `LLVMFuzzerTestOneInput` (libFuzzer's entry point: it must accept any bytes
/// without crashing, leaking or hanging; refusing them with a modelzoo error is
/// fine) and `mz_fuzz_seeds` (valid inputs made in code, the seed corpus).
/// Built with clang and -fsanitize=fuzzer (scripts/fuzz.sh) the target runs
/// under libFuzzer; in the normal build it is linked with replay_main.cpp,
/// which feeds the seeds, files named on the command line and a fixed number
/// of deterministic mutations of them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

/// Valid inputs for the target, made in code.
std::vector<std::string> mz_fuzz_seeds();
