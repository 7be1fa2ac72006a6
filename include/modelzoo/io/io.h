#pragma once
/// \file
/// Reading and writing weight files. The format is detected from the
/// content, never the extension:
/// - zip (torch.save since 1.6): a zip archive whose `<prefix>/data.pkl` is a
///   pickle and `<prefix>/data/<key>` are raw storages;
/// - legacy (torch.save before 1.6): magic number, protocol, sys-info pickle,
///   object pickle, storage-key list, then each storage as int64 count + raw bytes;
/// - safetensors: u64 header length, JSON header, raw tensor bytes.
/// Pickles go through a restricted unpickler (modelzoo/io/unpickler.h): only
/// allowlisted globals are resolved and nothing is ever executed.
///
/// Every length, offset and element count read from a file is checked against
/// the file size (overflow-safe) before anything is allocated; damage is a
/// FormatError naming the file and the record, storage or tensor involved.
///
/// Decisions worth knowing:
/// - Zero copy: with ReadOptions::mmap the file is mapped privately
///   (copy-on-write: writing to a tensor never reaches the file) and a storage
///   whose bytes are aligned for its dtype is aliased, not copied; the mapping
///   lives as long as any tensor using it. Misaligned or byte-swapped storages
///   are copied. Without mmap, each storage is read once into its own buffer.
/// - Tensors sharing a storage in the file share one storage after reading
///   (views keep their offsets and strides). Legacy storage views
///   (view_metadata) are placed on their root storage, so their storage offset
///   counts from the root.
/// - Storages saved on cuda:N are read on the CPU, then moved to
///   ReadOptions::device when it is not the CPU (moving copies each tensor).
/// - Big-endian files (zip `byteorder` "big", legacy `little_endian` False)
///   are byte-swapped while copying.
/// - safetensors U16 and U32 have no LibTorch 1.13 dtype: they are widened to
///   int32 and int64 (values exact); U64 is read as int64 when every value fits,
///   otherwise FormatError naming the tensor.
/// - Zip CRCs are not verified (the cache verifies SHA-256 of whole files).
/// - The zip writer uses pickle protocol 2 with the records and 64-byte
///   alignment PyTorch writes. torch 1.13's `torch.load(weights_only=True)`
///   reads its state dicts and checkpoints of ints, str, bool, None, lists,
///   tuples and dicts; floats (BINFLOAT), bytes (`_codecs.encode`), sets and
///   complex numbers are outside 1.13's weights-only unpickler (newer torch
///   accepts more of them) and need a plain `torch.load`.

#include <cstdint>
#include <filesystem>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/ordered_dict.h>

#include "modelzoo/io/value.h"

namespace modelzoo::io {

/// Tensors by parameter name, in file order (what `module.state_dict()` holds).
using StateDict = torch::OrderedDict<std::string, at::Tensor>;

/// The file formats this stage knows.
enum class Format { Zip, Legacy, Safetensors, Unknown };
/// "zip", "legacy", "safetensors", "unknown".
const char* format_name(Format f);
/// Looks at the first bytes of the file (never the extension). Throws
/// FormatError if it cannot be opened.
Format detect_format(const std::filesystem::path& file);

/// How to read.
struct ReadOptions {
  c10::Device device = c10::kCPU;  ///< where tensors end up (cuda:N storages map here)
  bool mmap = true;  ///< tensors alias a private mapping of the file when aligned
};

/// Reads any supported file into a Value tree (dicts, lists, tensors, ...).
Value read(const std::filesystem::path& file, const ReadOptions& options = {});

/// Reads the state dict of a file: the top-level dict of tensors, or the
/// tensor dict under "state_dict", "state", "model" or "model_state_dict" of
/// a checkpoint. Throws FormatError naming the file when there is none.
StateDict read_state_dict(const std::filesystem::path& file, const ReadOptions& options = {});

/// The tensors of a Value that is a dict of tensors (see read_state_dict).
StateDict to_state_dict(const Value& v, const std::string& origin);

/// How to write.
struct WriteOptions {
  Format format = Format::Zip;  ///< Zip (torch.load-able, weights_only too) or Safetensors
};

/// Writes a Value tree (zip: any picklable tree; safetensors: dict of tensors,
/// string metadata allowed under "__metadata__"). Atomic: temp file + rename.
void write(const std::filesystem::path& file, const Value& value, const WriteOptions& options = {});
/// Writes a state dict as an OrderedDict (zip) or a safetensors file.
void write_state_dict(const std::filesystem::path& file, const StateDict& sd,
                      const WriteOptions& options = {});

}  // namespace modelzoo::io
