#pragma once
// The format readers and writers behind modelzoo/io/io.h.

#include <cstdio>
#include <memory>
#include <string>

#include "io/source.h"
#include "modelzoo/io/io.h"
#include "modelzoo/io/value.h"

namespace modelzoo::io::detail {

// Format of the bytes in `src` (Unknown when none matches).
Format detect(const Source& src);
// Whether the first 512 bytes of `src` are a tar header as Python's tarfile
// accepts one (checksum as unsigned or signed byte sum), which torch.load tries
// before any other format.
bool is_tar_header(const Source& src);

// torch.save zip archive -> Value. `alias`: tensors may alias a mapped source.
Value read_zip(const std::shared_ptr<const Source>& src, bool alias);
// torch.save legacy (pre-1.6) file -> Value.
Value read_legacy(const std::shared_ptr<const Source>& src, bool alias);
// safetensors file -> ordered dict of tensors (+ "__metadata__" dict of str).
Value read_safetensors(const std::shared_ptr<const Source>& src, bool alias);

// Writes `value` as a torch.save zip archive whose records live under
// `<archive_name>/`. `what` names the file in messages.
void write_zip(std::FILE* out, const Value& value, const std::string& archive_name, const std::string& what);
// Writes a dict of tensors (+ optional "__metadata__" dict of str) as safetensors.
void write_safetensors(std::FILE* out, const Value& value, const std::string& what);

}  // namespace modelzoo::io::detail
