#pragma once
// Where readers get bytes from: a file read with pread, a private
// copy-on-write mapping of a file, or memory. Readers only see `Source`.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace modelzoo::io::detail {

// Random-access bytes with a name for messages.
class Source {
 public:
  virtual ~Source() = default;
  // Total size in bytes.
  virtual uint64_t size() const = 0;
  // Copies [pos, pos+n) into buf; throws FormatError when out of range or on I/O errors.
  virtual void read(uint64_t pos, void* buf, std::size_t n) const = 0;
  // The whole content when it is addressable in memory (a mapping), else null.
  virtual const uint8_t* data() const { return nullptr; }
  // Names the source in messages (the file path).
  const std::string& origin() const { return origin_; }

  // [pos, pos+n) as a string (bounds-checked).
  std::string read_string(uint64_t pos, uint64_t n) const;
  // Throws FormatError naming `what` unless [pos, pos+n) lies inside the source.
  void check_range(uint64_t pos, uint64_t n, const std::string& what) const;

 protected:
  explicit Source(std::string origin) : origin_(std::move(origin)) {}

 private:
  std::string origin_;
};

// Reads a file with pread; keeps it open.
std::shared_ptr<const Source> open_file(const std::filesystem::path& file);

// A private (MAP_PRIVATE, copy-on-write) read-write mapping of a whole file:
// writes through it never reach the file. The mapping lives as long as any
// shared_ptr to it, including tensors aliasing it. read() of 64 KiB or more
// uses pread, leaving the mapped pages untouched (a copied storage does not
// also fault its pages into memory).
std::shared_ptr<const Source> map_file(const std::filesystem::path& file);

// Bytes held in memory (tests, nested archives).
std::shared_ptr<const Source> memory_source(std::string bytes, std::string origin);

// A 1-D tensor of `dtype` over [offset, offset+nbytes) of `src`: aliasing the
// mapping when `src` is mapped, `alias` is allowed, no byte swap is needed and
// the address is aligned for the dtype; otherwise a copy (byte-swapped when
// `byteswap`). nbytes must be a multiple of the dtype's size.
at::Tensor load_storage(const std::shared_ptr<const Source>& src, uint64_t offset, uint64_t nbytes,
                        c10::ScalarType dtype, bool byteswap, bool alias);

// Reverses the byte order of every element of a contiguous buffer in place.
void byteswap_elements(void* data, uint64_t nbytes, std::size_t itemsize);

// A storage of nbytes with no memory yet (filled later with set_data_ptr),
// wrapped in a 1-D tensor of `dtype`.
at::Tensor unfilled_storage(uint64_t nbytes, c10::ScalarType dtype);

}  // namespace modelzoo::io::detail
