#include "io/source.h"

#include <ATen/ops/empty.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/Storage.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "modelzoo/error.h"

namespace modelzoo::io::detail {

std::string Source::read_string(uint64_t pos, uint64_t n) const {
  check_range(pos, n, "read");
  std::string out(static_cast<std::size_t>(n), '\0');
  if (n) read(pos, out.data(), static_cast<std::size_t>(n));
  return out;
}

void Source::check_range(uint64_t pos, uint64_t n, const std::string& what) const {
  if (pos > size() || n > size() - pos) {
    throw FormatError(origin() + ": " + what + " needs bytes [" + std::to_string(pos) + ", " +
                      (n > UINT64_MAX - pos ? std::string("overflow") : std::to_string(pos + n)) +
                      ") but the file has only " + std::to_string(size()) + " bytes (truncated or corrupt)");
  }
}

namespace {

std::string errno_text() { return std::strerror(errno); }

class Fd {
 public:
  explicit Fd(const std::filesystem::path& file) : fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw FormatError(file.string() + ": cannot open for reading: " + errno_text());
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

uint64_t file_size(int fd, const std::filesystem::path& file) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw FormatError(file.string() + ": cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw FormatError(file.string() + ": not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

// pread until n bytes are in buf; throws FormatError naming `origin`.
void pread_fully(int fd, uint64_t pos, void* buf, std::size_t n, const std::string& origin) {
  auto* out = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, static_cast<off_t>(pos));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw FormatError(origin + ": read failed at offset " + std::to_string(pos) + ": " + errno_text());
    }
    if (got == 0) throw FormatError(origin + ": file shrank while reading (offset " + std::to_string(pos) + ")");
    out += got;
    pos += static_cast<uint64_t>(got);
    n -= static_cast<std::size_t>(got);
  }
}

class FileSource final : public Source {
 public:
  explicit FileSource(const std::filesystem::path& file) : Source(file.string()), fd_(file) {
    size_ = file_size(fd_.get(), file);
  }
  uint64_t size() const override { return size_; }
  void read(uint64_t pos, void* buf, std::size_t n) const override {
    check_range(pos, n, "read");
    pread_fully(fd_.get(), pos, buf, n, origin());
  }

 private:
  Fd fd_;
  uint64_t size_ = 0;
};

// Large copies out of a mapping (storages that cannot alias it: misaligned
// in the file, byte-swapped) are read with pread instead: copying from the
// mapped pages would fault them into this process, so that both the pages
// and the copy count against its memory. Nothing writes through the mapping
// while a file is read, so both give the same bytes.
constexpr std::size_t kPreadThreshold = 64 * 1024;

class MappedFile final : public Source {
 public:
  explicit MappedFile(const std::filesystem::path& file) : Source(file.string()), fd_(file) {
    size_ = file_size(fd_.get(), file);
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_.get(), 0);
    if (p == MAP_FAILED) throw FormatError(origin() + ": cannot map " + std::to_string(size_) + " bytes: " + errno_text());
    base_ = static_cast<uint8_t*>(p);
  }
  ~MappedFile() override {
    if (base_) ::munmap(base_, size_);
  }
  uint64_t size() const override { return size_; }
  void read(uint64_t pos, void* buf, std::size_t n) const override {
    check_range(pos, n, "read");
    if (n >= kPreadThreshold) {
      pread_fully(fd_.get(), pos, buf, n, origin());
    } else if (n) {
      std::memcpy(buf, base_ + pos, n);
    }
  }
  const uint8_t* data() const override { return base_ ? base_ : reinterpret_cast<const uint8_t*>(""); }

 private:
  Fd fd_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

class MemorySource final : public Source {
 public:
  MemorySource(std::string bytes, std::string origin) : Source(std::move(origin)), bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t pos, void* buf, std::size_t n) const override {
    check_range(pos, n, "read");
    if (n) std::memcpy(buf, bytes_.data() + pos, n);
  }

 private:
  std::string bytes_;
};

// Deleter context of a tensor aliasing a mapping: keeps the mapping alive.
void release_mapping(void* ctx) { delete static_cast<std::shared_ptr<const Source>*>(ctx); }

void noop_deleter(void*) {}

at::Tensor wrap_storage(c10::DataPtr data, uint64_t nbytes, c10::ScalarType dtype) {
  c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<size_t>(nbytes), std::move(data),
                       /*allocator=*/nullptr, /*resizable=*/false);
  at::Tensor t = at::empty({0}, at::TensorOptions().dtype(dtype));
  const auto itemsize = static_cast<int64_t>(c10::elementSize(dtype));
  t.set_(storage, 0, {static_cast<int64_t>(nbytes) / itemsize}, {1});
  return t;
}

}  // namespace

std::shared_ptr<const Source> open_file(const std::filesystem::path& file) {
  return std::make_shared<FileSource>(file);
}

std::shared_ptr<const Source> map_file(const std::filesystem::path& file) {
  return std::make_shared<MappedFile>(file);
}

std::shared_ptr<const Source> memory_source(std::string bytes, std::string origin) {
  return std::make_shared<MemorySource>(std::move(bytes), std::move(origin));
}

void byteswap_elements(void* data, uint64_t nbytes, std::size_t itemsize) {
  if (itemsize <= 1) return;
  auto* p = static_cast<uint8_t*>(data);
  for (uint64_t i = 0; i + itemsize <= nbytes; i += itemsize) std::reverse(p + i, p + i + itemsize);
}

at::Tensor load_storage(const std::shared_ptr<const Source>& src, uint64_t offset, uint64_t nbytes,
                        c10::ScalarType dtype, bool byteswap, bool alias) {
  src->check_range(offset, nbytes, "storage");
  const std::size_t itemsize = c10::elementSize(dtype);
  // Complex numbers swap each half separately.
  const std::size_t swap_unit = c10::isComplexType(dtype) ? itemsize / 2 : itemsize;
  const uint8_t* base = src->data();
  if (alias && base && !byteswap && nbytes > 0 &&
      reinterpret_cast<uintptr_t>(base + offset) % itemsize == 0) {
    auto* ctx = new std::shared_ptr<const Source>(src);
    c10::DataPtr ptr(const_cast<uint8_t*>(base + offset), ctx, &release_mapping, c10::Device(c10::kCPU));
    return wrap_storage(std::move(ptr), nbytes, dtype);
  }
  at::Tensor t = at::empty({static_cast<int64_t>(nbytes / itemsize)}, at::TensorOptions().dtype(dtype));
  if (nbytes) {
    src->read(offset, t.data_ptr(), static_cast<std::size_t>(nbytes));
    if (byteswap) byteswap_elements(t.data_ptr(), nbytes, swap_unit);
  }
  return t;
}

at::Tensor unfilled_storage(uint64_t nbytes, c10::ScalarType dtype) {
  c10::DataPtr ptr(nullptr, nullptr, &noop_deleter, c10::Device(c10::kCPU));
  return wrap_storage(std::move(ptr), nbytes, dtype);
}

}  // namespace modelzoo::io::detail
