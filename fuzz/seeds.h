#pragma once
/// \file
/// Building blocks for seed inputs: small valid files of each format, made
/// in memory, and a scratch file for targets whose reader takes a path.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/source.h"

namespace mz_fuzz {

/// A few small torch.save zip archives (state dicts, checkpoints, views, big-endian).
std::vector<std::string> zip_seeds();
/// A few small legacy (pre-1.6) torch.save files, built byte by byte.
std::vector<std::string> legacy_seeds();
/// A few small safetensors files.
std::vector<std::string> safetensors_seeds();
/// The object pickles inside zip_seeds() plus pickles of plain values (protocols 0-5 opcodes).
std::vector<std::string> pickle_seeds();

/// Sources over the fuzz input, as the readers see files: a mapped one
/// (`data()` set: parsed in place, tensors may alias it) and a plain one
/// (read piecewise, like pread), without touching the file system.
std::shared_ptr<const modelzoo::io::detail::Source> mapped_source(const uint8_t* data, std::size_t size);
std::shared_ptr<const modelzoo::io::detail::Source> plain_source(const uint8_t* data, std::size_t size);

/// A per-process file under /dev/shm (else the temp dir) holding `bytes`;
/// rewritten on every call.
const std::filesystem::path& scratch_file(const std::string& bytes);

}  // namespace mz_fuzz
