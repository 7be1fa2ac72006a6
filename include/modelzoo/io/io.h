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
/// Hostile files: every file is refused or read in time and memory that grow
/// linearly with its size, within these bounds (each refusal is a
/// FormatError naming the file and the damage, with and without mmap):
/// - Ambiguity: a file whose first 512 bytes are also a valid tar header
///   (torch.load tries tar before anything else) is refused; so are zip
///   archives with two records of one name, a record name that is absolute or
///   has a '..' component, a backslash or a NUL, and records outside the
///   directory of `data.pkl` — anything Python could read differently.
/// - safetensors: header at most 100 MB, JSON nested at most 3 levels (the
///   schema's depth; checked by a scan before parsing), no key twice in one
///   object; the product of a tensor's non-zero dimensions must fit int64
///   and the byte count is computed in 128 bits.
/// - Zip: a deflated record may declare at most 1100 bytes per compressed
///   byte (deflate's limit is 1032) and at most 2 GiB; it is inflated a chunk
///   at a time into memory that grows with the actual output, and must
///   inflate to exactly its declared size.
/// - Pickles: each opcode creates at most one value and nothing is ever
///   copied (memo, DUP and repeated keys share one object, as in Python), so
///   unpickling costs at most about 350 bytes of memory per pickle byte
///   (measured: 10^7 empty lists, 3.4 GB; Python needs about 60) and time
///   linear in its size: str/bytes/big-int keys are hashed once per object,
///   tuples once per tuple, and comparing two distinct keys stops with an
///   error after 2^20 steps. Allowlisted calls nest at most 8 deep (a pickle
///   of 100,000 nested `_rebuild_from_type_v2` is refused); integers are at
///   most 4096 bytes; a container that holds itself is refused (and freed).
///   Deeply nested values are built, checked and destroyed without recursion,
///   so any depth is safe; code that walks them recursively bounds its depth
///   (moving to a device: 1000 levels; `cache_tool inspect`: 256) and keeps
///   shared structure shared (60 nested pairs of one tuple stay 60 objects).
/// - Storages: element counts are checked against the record or file size
///   before anything is allocated.
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
