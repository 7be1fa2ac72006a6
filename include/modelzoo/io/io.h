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

enum class Format { Zip, Legacy, Safetensors, Unknown };
/// "zip", "legacy", "safetensors", "unknown".
const char* format_name(Format f);
/// Looks at the first bytes of the file. Throws FormatError if unreadable.
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
