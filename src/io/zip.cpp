#include "io/zip.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

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

// Refuses a record name that could leave the archive or means different
// files to different readers: absolute, with a '..' component, a backslash
// or a NUL, or empty.
void check_name(const std::string& origin, const std::string& name) {
  std::string why;
  if (name.empty()) why = "is empty";
  else if (name[0] == '/') why = "is an absolute path";
  else if (name.find('\\') != std::string::npos) why = "holds a backslash";
  else if (name.find('\0') != std::string::npos) why = "holds a NUL byte";
  else {
    std::size_t start = 0;
    while (start <= name.size()) {
      std::size_t end = name.find('/', start);
      if (end == std::string::npos) end = name.size();
      if (name.compare(start, end - start, "..") == 0) why = "has a '..' component";
      start = end + 1;
    }
  }
  if (!why.empty()) {
    std::string shown = name.size() > 80 ? name.substr(0, 77) + "..." : name;
    for (auto& c : shown) {
      if (c == '\0') c = '?';
    }
    throw FormatError(origin + ": zip record name '" + shown + "' " + why + "; a torch.save archive keeps every "
                      "record under its one top-level directory");
  }
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
    check_name(origin, e.name);
    if (!by_name_.emplace(e.name, entries_.size()).second) {
      throw FormatError(origin + ": zip archive has two records named '" + e.name +
                        "' (readers disagree on which one counts: torch.load reads the last)");
    }
    entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

namespace {

constexpr uint64_t kMaxInflated = uint64_t{1} << 31;
constexpr std::size_t kInflateChunk = std::size_t{1} << 20;

// Inflates a deflated entry into a buffer that grows as output arrives (it is
// never sized from the declared size alone), reading the compressed bytes a
// chunk at a time; more or fewer bytes than declared is corruption.
std::string inflate_entry(const Source& s, const ZipEntry& e) {
  // Deflate cannot expand data more than ~1032:1; refuse declared sizes beyond that.
  if (e.size > e.compressed_size * 1100 + 1024) {
    throw FormatError(s.origin() + ": deflated zip entry '" + e.name + "' declares " + std::to_string(e.size) +
                      " bytes from only " + std::to_string(e.compressed_size) + " compressed bytes (a zip bomb?)");
  }
  if (e.size > kMaxInflated) {
    throw FormatError(s.origin() + ": deflated zip entry '" + e.name + "' declares " + std::to_string(e.size) +
                      " bytes, more than the 2 GiB this reader inflates");
  }
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FormatError(s.origin() + ": zlib initialisation failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::string out;
  std::string in;
  uint64_t in_pos = 0;
  int rc = Z_OK;
  auto corrupt = [&](const std::string& why) {
    return FormatError(s.origin() + ": deflated zip entry '" + e.name + "' is corrupt: " + why);
  };
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0 && in_pos < e.compressed_size) {
      const uint64_t n = std::min<uint64_t>(kInflateChunk, e.compressed_size - in_pos);
      in = s.read_string(e.data_offset + in_pos, n);
      in_pos += n;
      z.next_in = reinterpret_cast<Bytef*>(in.data());
      z.avail_in = static_cast<uInt>(n);
    }
    if (z.total_out == out.size()) {
      if (out.size() >= e.size) {
        // Full: one more byte of room tells a stream that ends here from one that goes on.
        if (out.size() > e.size) throw corrupt("it inflates to more than its declared " + std::to_string(e.size) + " bytes");
        out.resize(out.size() + 1);
      } else {
        const uint64_t grown = std::min<uint64_t>(e.size, std::max<uint64_t>(64 * 1024, out.size() * 2));
        out.resize(static_cast<std::size_t>(grown));
      }
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data()) + z.total_out;
    z.avail_out = static_cast<uInt>(std::min<uint64_t>(out.size() - z.total_out, kInflateChunk));
    const uLong before_in = z.avail_in, before_out = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw corrupt(z.msg ? z.msg : "zlib error " + std::to_string(rc));
    if (z.avail_in == before_in && z.avail_out == before_out) {
      throw corrupt("the compressed data ends after " + std::to_string(z.total_out) + " of " +
                    std::to_string(e.size) + " bytes");
    }
  }
  if (z.total_out != e.size) {
    throw corrupt("it inflates to " + std::string(z.total_out > e.size ? "more than" : "only") + " " +
                  std::to_string(std::min<uint64_t>(z.total_out, e.size)) + " of its declared " +
                  std::to_string(e.size) + " bytes");
  }
  out.resize(static_cast<std::size_t>(e.size));
  return out;
}

}  // namespace

std::string ZipReader::read(const ZipEntry& e) const {
  if (e.method == 0) return src_->read_string(e.data_offset, e.size);
  return inflate_entry(*src_, e);
}

at::Tensor ZipReader::read_storage(const ZipEntry& e, uint64_t nbytes, c10::ScalarType dtype, bool byteswap,
                                   bool alias) const {
  if (nbytes > e.size) {
    throw FormatError(src_->origin() + ": record '" + e.name + "' holds " + std::to_string(e.size) +
                      " bytes but its storage needs " + std::to_string(nbytes));
  }
  if (e.method == 0) return load_storage(src_, e.data_offset, nbytes, dtype, byteswap, alias);
  const std::size_t itemsize = c10::elementSize(dtype);
  // The inflated bytes become the tensor's memory (no second copy).
  auto* buf = new std::string(inflate_entry(*src_, e));
  if (buf->size() < sizeof(std::max_align_t)) buf->reserve(sizeof(std::max_align_t));  // heap, aligned
  at::Tensor t = at::from_blob(
      buf->data(), {static_cast<int64_t>(nbytes / itemsize)}, [buf](void*) { delete buf; },
      at::TensorOptions().dtype(dtype));
  if (nbytes && byteswap) byteswap_elements(t.data_ptr(), nbytes, c10::isComplexType(dtype) ? itemsize / 2 : itemsize);
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
