#pragma once
/// \file
/// Building blocks for seed inputs: small valid files of each format, made
/// in memory, and a scratch file for targets whose reader takes a path.

#include <filesystem>
#include <string>
#include <vector>

namespace mz_fuzz {

/// A few small torch.save zip archives (state dicts, checkpoints, views, big-endian).
std::vector<std::string> zip_seeds();
/// A few small legacy (pre-1.6) torch.save files, built byte by byte.
std::vector<std::string> legacy_seeds();
/// A few small safetensors files.
std::vector<std::string> safetensors_seeds();
/// The object pickles inside zip_seeds() plus pickles of plain values (protocols 0-5 opcodes).
std::vector<std::string> pickle_seeds();

/// A per-process file under /dev/shm (else the temp dir) holding `bytes`;
/// rewritten on every call.
const std::filesystem::path& scratch_file(const std::string& bytes);

}  // namespace mz_fuzz
