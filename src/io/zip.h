#pragma once
// Minimal zip archives as torch.save writes them.
//
// Reading: the end-of-central-directory record (ZIP64 too) gives the central
// directory; each entry's local header gives where its bytes start. Every
// size and offset is checked against the file size. Stored entries are read
// in place (or aliased when mapped); deflated ones are inflated with zlib.
//
// Writing: stored entries only, each entry's data padded to a 64-byte
// boundary with an extra field (id "FB", as PyTorch does) so storages can be
// mapped straight into tensors; ZIP64 records when sizes or offsets need them.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/source.h"

namespace modelzoo::io::detail {

// One file in an archive.
struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;      // first byte of the (possibly compressed) data
  uint64_t compressed_size = 0;  // bytes in the archive
  uint64_t size = 0;             // bytes once inflated
  uint16_t method = 0;           // 0 stored, 8 deflated
  uint32_t crc32 = 0;
};

// The central directory of a zip archive held in a Source.
class ZipReader {
 public:
  explicit ZipReader(std::shared_ptr<const Source> src);
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry named `name`, or null.
  const ZipEntry* find(const std::string& name) const;
  // The entry's content (inflated if needed).
  std::string read(const ZipEntry& e) const;
  // The first `nbytes` of the entry as a 1-D tensor of `dtype` (see load_storage).
  at::Tensor read_storage(const ZipEntry& e, uint64_t nbytes, c10::ScalarType dtype, bool byteswap, bool alias) const;
  const std::shared_ptr<const Source>& source() const { return src_; }

 private:
  std::shared_ptr<const Source> src_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> by_name_;
};

// Writes a zip archive of stored entries to an open FILE.
class ZipWriter {
 public:
  // `out` stays owned by the caller; `what` names the file in messages.
  ZipWriter(std::FILE* out, std::string what);
  // Appends an entry; its data starts at a multiple of `alignment` in the file.
  void add(const std::string& name, const void* data, uint64_t size, uint64_t alignment = 64);
  // Writes the central directory and end records.
  void finish();

 private:
  struct Written {
    std::string name;
    uint64_t header_offset;
    uint64_t size;
    uint32_t crc;
  };
  std::FILE* out_;
  std::string what_;
  uint64_t pos_ = 0;
  std::vector<Written> written_;
  void put(const void* data, std::size_t n);
  void put(const std::string& s) { put(s.data(), s.size()); }
};

}  // namespace modelzoo::io::detail
