#include "io/zip.h"

#include <ATen/ops/empty.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "modelzoo/error.h"

namespace modelzoo::io::detail {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint64_t kMax32 = 0xFFFFFFFFu;
constexpr uint64_t kMax16 = 0xFFFFu;

uint64_t get_le(const std::string& b, std::size_t at, std::size_t n) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

void put_le(std::string& out, uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Feeds a large buffer to zlib's crc32 in pieces (its length argument is 32-bit).
uint32_t crc_of(const void* data, uint64_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<uint64_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

ZipReader::ZipReader(std::shared_ptr<const Source> src) : src_(std::move(src)) {
  const Source& s = *src_;
  const std::string& origin = s.origin();
  const uint64_t size = s.size();
  if (size < 22) {
    throw FormatError(origin + ": zip archive truncated: " + std::to_string(size) +
                      " bytes is smaller than an end-of-central-directory record (22 bytes)");
  }
  // The end record sits in the last 22 + 65535 (comment) bytes.
  const uint64_t tail_len = std::min<uint64_t>(size, 22 + 65535);
  const uint64_t tail_start = size - tail_len;
  std::string tail = s.read_string(tail_start, tail_len);
  std::size_t end_at = std::string::npos;
  for (std::size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (get_le(tail, i, 4) == kEndSig && i + 22 + get_le(tail, i + 20, 2) <= tail.size()) {
      end_at = i;
      break;
    }
  }
  if (end_at == std::string::npos) {
    throw FormatError(origin + ": zip archive truncated or corrupt: no end-of-central-directory record in its last " +
                      std::to_string(tail_len) + " bytes");
  }
  uint64_t count = get_le(tail, end_at + 10, 2);
  uint64_t cd_size = get_le(tail, end_at + 12, 4);
  uint64_t cd_offset = get_le(tail, end_at + 16, 4);
  const uint64_t end_pos = tail_start + end_at;
  if (count == kMax16 || cd_size == kMax32 || cd_offset == kMax32) {
    // ZIP64: a locator right before the end record points at the ZIP64 end record.
    if (end_pos < 20) throw FormatError(origin + ": ZIP64 archive without an end locator");
    std::string loc = s.read_string(end_pos - 20, 20);
    if (get_le(loc, 0, 4) != kEnd64LocatorSig) throw FormatError(origin + ": ZIP64 end locator missing or corrupt");
    uint64_t end64 = get_le(loc, 8, 8);
    s.check_range(end64, 56, "ZIP64 end-of-central-directory record");
    std::string rec = s.read_string(end64, 56);
    if (get_le(rec, 0, 4) != kEnd64Sig) throw FormatError(origin + ": ZIP64 end record has a bad signature");
    count = get_le(rec, 32, 8);
    cd_size = get_le(rec, 40, 8);
    cd_offset = get_le(rec, 48, 8);
  }
  s.check_range(cd_offset, cd_size, "zip central directory");
  if (count > cd_size / 46) {
    throw FormatError(origin + ": zip central directory claims " + std::to_string(count) + " entries but has only " +
                      std::to_string(cd_size) + " bytes");
  }
  std::string cd = s.read_string(cd_offset, cd_size);
  std::size_t p = 0;
  entries_.reserve(static_cast<std::size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd.size() || get_le(cd, p, 4) != kCentralSig) {
      throw FormatError(origin + ": zip central directory entry " + std::to_string(i) + " is truncated or corrupt");
    }
    const uint64_t flags = get_le(cd, p + 8, 2);
    ZipEntry e;
    e.method = static_cast<uint16_t>(get_le(cd, p + 10, 2));
    e.crc32 = static_cast<uint32_t>(get_le(cd, p + 16, 4));
    e.compressed_size = get_le(cd, p + 20, 4);
    e.size = get_le(cd, p + 24, 4);
    const std::size_t name_len = get_le(cd, p + 28, 2);
    const std::size_t extra_len = get_le(cd, p + 30, 2);
    const std::size_t comment_len = get_le(cd, p + 32, 2);
    uint64_t local = get_le(cd, p + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > cd.size()) {
      throw FormatError(origin + ": zip central directory entry " + std::to_string(i) + " runs past the directory");
    }
    e.name = cd.substr(p + 46, name_len);
    // ZIP64 extra field: the 32-bit fields that are 0xFFFFFFFF, in order.
    std::size_t x = p + 46 + name_len;
    const std::size_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const uint64_t id = get_le(cd, x, 2);
      const std::size_t len = get_le(cd, x + 2, 2);
      if (x + 4 + len > x_end) break;
      if (id == 0x0001) {
        std::size_t q = x + 4;
        auto next = [&](uint64_t& field) {
          if (field != kMax32) return;
          if (q + 8 > x + 4 + len) throw FormatError(origin + ": zip entry '" + e.name + "' has a short ZIP64 field");
          field = get_le(cd, q, 8);
          q += 8;
        };
        next(e.size);
        next(e.compressed_size);
        next(local);
      }
      x += 4 + len;
    }
    if (flags & 1) throw FormatError(origin + ": zip entry '" + e.name + "' is encrypted");
    if (e.method != 0 && e.method != 8) {
      throw FormatError(origin + ": zip entry '" + e.name + "' uses compression method " + std::to_string(e.method) +
                        "; expected 0 (stored) or 8 (deflated)");
    }
    if (e.method == 0 && e.size != e.compressed_size) {
      throw FormatError(origin + ": stored zip entry '" + e.name + "' has size " + std::to_string(e.size) +
                        " but compressed size " + std::to_string(e.compressed_size));
    }
    s.check_range(local, 30, "local header of zip entry '" + e.name + "'");
    std::string lh = s.read_string(local, 30);
    if (get_le(lh, 0, 4) != kLocalSig) {
      throw FormatError(origin + ": zip entry '" + e.name + "' has no local header at offset " + std::to_string(local));
    }
    e.data_offset = local + 30 + get_le(lh, 26, 2) + get_le(lh, 28, 2);
    s.check_range(e.data_offset, e.compressed_size, "data of zip entry '" + e.name + "'");
    by_name_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

namespace {

void inflate_into(const Source& s, const ZipEntry& e, void* out, uint64_t out_len) {
  // Deflate cannot expand data more than ~1032:1; refuse declared sizes beyond that.
  if (e.size > e.compressed_size * 1100 + 1024) {
    throw FormatError(s.origin() + ": deflated zip entry '" + e.name + "' declares " + std::to_string(e.size) +
                      " bytes from only " + std::to_string(e.compressed_size) + " compressed bytes");
  }
  std::string in = s.read_string(e.data_offset, e.compressed_size);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FormatError(s.origin() + ": zlib initialisation failed");
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = static_cast<Bytef*>(out);
  z.avail_out = static_cast<uInt>(out_len);
  int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if ((rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && produced == out_len)) || produced != out_len) {
    throw FormatError(s.origin() + ": deflated zip entry '" + e.name + "' is corrupt (inflated " +
                      std::to_string(produced) + " of " + std::to_string(out_len) + " bytes)");
  }
}

}  // namespace

std::string ZipReader::read(const ZipEntry& e) const {
  if (e.method == 0) return src_->read_string(e.data_offset, e.size);
  if (e.size > (1ull << 31)) throw FormatError(src_->origin() + ": zip entry '" + e.name + "' is too large to inflate");
  std::string out(static_cast<std::size_t>(e.size), '\0');
  if (e.size) inflate_into(*src_, e, out.data(), e.size);
  return out;
}

at::Tensor ZipReader::read_storage(const ZipEntry& e, uint64_t nbytes, c10::ScalarType dtype, bool byteswap,
                                   bool alias) const {
  if (nbytes > e.size) {
    throw FormatError(src_->origin() + ": record '" + e.name + "' holds " + std::to_string(e.size) +
                      " bytes but its storage needs " + std::to_string(nbytes));
  }
  if (e.method == 0) return load_storage(src_, e.data_offset, nbytes, dtype, byteswap, alias);
  if (e.size > (1ull << 31)) throw FormatError(src_->origin() + ": zip entry '" + e.name + "' is too large to inflate");
  const std::size_t itemsize = c10::elementSize(dtype);
  std::string buf(static_cast<std::size_t>(e.size), '\0');
  if (e.size) inflate_into(*src_, e, buf.data(), e.size);
  at::Tensor t = at::empty({static_cast<int64_t>(nbytes / itemsize)}, at::TensorOptions().dtype(dtype));
  if (nbytes) {
    std::memcpy(t.data_ptr(), buf.data(), static_cast<std::size_t>(nbytes));
    if (byteswap) byteswap_elements(t.data_ptr(), nbytes, c10::isComplexType(dtype) ? itemsize / 2 : itemsize);
  }
  return t;
}

ZipWriter::ZipWriter(std::FILE* out, std::string what) : out_(out), what_(std::move(what)) {}

void ZipWriter::put(const void* data, std::size_t n) {
  if (n && std::fwrite(data, 1, n, out_) != n) {
    throw FormatError(what_ + ": write failed: " + std::strerror(errno));
  }
  pos_ += n;
}

void ZipWriter::add(const std::string& name, const void* data, uint64_t size, uint64_t alignment) {
  const uint32_t crc = crc_of(data, size);
  const bool big = size >= kMax32 || pos_ >= kMax32;
  std::string h;
  put_le(h, kLocalSig, 4);
  put_le(h, big ? 45 : 20, 2);  // version needed
  put_le(h, 0x0800, 2);         // flags: UTF-8 names
  put_le(h, 0, 2);              // stored
  put_le(h, 0, 2);              // time
  put_le(h, 0x21, 2);           // date (1980-01-01)
  put_le(h, crc, 4);
  put_le(h, big ? kMax32 : size, 4);
  put_le(h, big ? kMax32 : size, 4);
  put_le(h, name.size(), 2);
  std::string extra;
  if (big) {
    put_le(extra, 0x0001, 2);
    put_le(extra, 16, 2);
    put_le(extra, size, 8);
    put_le(extra, size, 8);
  }
  // Pad with an "FB" extra field so the data starts on an aligned offset.
  uint64_t data_start = pos_ + 30 + name.size() + extra.size();
  if (alignment > 1 && data_start % alignment != 0) {
    uint64_t pad = alignment - data_start % alignment;
    if (pad < 4) pad += alignment;
    put_le(extra, 0x4246, 2);
    put_le(extra, pad - 4, 2);
    extra.append(static_cast<std::size_t>(pad - 4), 'Z');
  }
  put_le(h, extra.size(), 2);
  const uint64_t header_offset = pos_;
  put(h);
  put(name);
  put(extra);
  put(data, static_cast<std::size_t>(size));
  written_.push_back({name, header_offset, size, crc});
}

void ZipWriter::finish() {
  const uint64_t cd_offset = pos_;
  for (const auto& w : written_) {
    const bool big = w.size >= kMax32 || w.header_offset >= kMax32;
    std::string extra;
    if (big) {
      put_le(extra, 0x0001, 2);
      put_le(extra, 24, 2);
      put_le(extra, w.size, 8);
      put_le(extra, w.size, 8);
      put_le(extra, w.header_offset, 8);
    }
    std::string h;
    put_le(h, kCentralSig, 4);
    put_le(h, big ? 45 : 20, 2);  // version made by
    put_le(h, big ? 45 : 20, 2);  // version needed
    put_le(h, 0x0800, 2);
    put_le(h, 0, 2);
    put_le(h, 0, 2);
    put_le(h, 0x21, 2);
    put_le(h, w.crc, 4);
    put_le(h, big ? kMax32 : w.size, 4);
    put_le(h, big ? kMax32 : w.size, 4);
    put_le(h, w.name.size(), 2);
    put_le(h, extra.size(), 2);
    put_le(h, 0, 2);  // comment
    put_le(h, 0, 2);  // disk
    put_le(h, 0, 2);  // internal attributes
    put_le(h, 0, 4);  // external attributes
    put_le(h, big ? kMax32 : w.header_offset, 4);
    put(h);
    put(w.name);
    put(extra);
  }
  const uint64_t cd_size = pos_ - cd_offset;
  const uint64_t count = written_.size();
  const bool big = cd_offset >= kMax32 || cd_size >= kMax32 || count >= kMax16;
  if (big) {
    const uint64_t end64 = pos_;
    std::string r;
    put_le(r, kEnd64Sig, 4);
    put_le(r, 44, 8);
    put_le(r, 45, 2);
    put_le(r, 45, 2);
    put_le(r, 0, 4);
    put_le(r, 0, 4);
    put_le(r, count, 8);
    put_le(r, count, 8);
    put_le(r, cd_size, 8);
    put_le(r, cd_offset, 8);
    put_le(r, kEnd64LocatorSig, 4);
    put_le(r, 0, 4);
    put_le(r, end64, 8);
    put_le(r, 1, 4);
    put(r);
  }
  std::string e;
  put_le(e, kEndSig, 4);
  put_le(e, 0, 2);
  put_le(e, 0, 2);
  put_le(e, big ? kMax16 : count, 2);
  put_le(e, big ? kMax16 : count, 2);
  put_le(e, big ? kMax32 : cd_size, 4);
  put_le(e, big ? kMax32 : cd_offset, 4);
  put_le(e, 0, 2);
  put(e);
}

}  // namespace modelzoo::io::detail
