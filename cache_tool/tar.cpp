#include "tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "interrupt.h"
#include "modelzoo/error.h"

namespace cache_tool::tar {

namespace fs = std::filesystem;
using modelzoo::CacheError;
using modelzoo::FormatError;

namespace {

constexpr std::size_t kBlock = 512;
constexpr uint64_t kMaxOctal11 = (1ull << 33) - 1;  // what 11 octal digits hold (8 GiB - 1)
constexpr uint64_t kMaxExtendedHeader = 1 << 20;    // pax / GNU long-name data we are willing to read

// Field offsets and widths of a ustar header.
constexpr std::size_t kName = 0, kNameLen = 100;
constexpr std::size_t kMode = 100, kUid = 108, kGid = 116, kSize = 124, kMtime = 136, kChksum = 148;
constexpr std::size_t kType = 156, kLink = 157, kLinkLen = 100, kMagic = 257, kVersion = 263;
constexpr std::size_t kUname = 265, kGname = 297, kPrefix = 345, kPrefixLen = 155;

using Block = std::array<char, kBlock>;

void put_octal(Block& b, std::size_t off, std::size_t width, uint64_t v) {
  // width-1 digits, zero padded, then NUL.
  std::string digits(width - 1, '0');
  for (std::size_t i = width - 1; i-- > 0 && v > 0; v >>= 3) digits[i] = static_cast<char>('0' + (v & 7));
  std::memcpy(b.data() + off, digits.data(), width - 1);
  b[off + width - 1] = '\0';
}

void put_text(Block& b, std::size_t off, std::size_t width, const std::string& s) {
  std::memcpy(b.data() + off, s.data(), std::min(width, s.size()));
}

unsigned checksum(const Block& b) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    sum += (i >= kChksum && i < kChksum + 8) ? ' ' : static_cast<unsigned char>(b[i]);
  }
  return sum;
}

std::string field(const Block& b, std::size_t off, std::size_t width) {
  const char* p = b.data() + off;
  return std::string(p, strnlen(p, width));
}

std::string pax_record(const std::string& key, const std::string& value) {
  // "<len> key=value\n" where <len> counts the whole record, its own digits included.
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

bool pread_all(int fd, char* buf, std::size_t n, uint64_t offset) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

/// Owns a read-only descriptor of an archive.
struct File {
  explicit File(const fs::path& p) : path(p), fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd < 0) throw CacheError("cannot open the bundle " + p.string() + ": " + std::strerror(errno));
  }
  ~File() { ::close(fd); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  fs::path path;
  int fd;
};

}  // namespace

// ---------------------------------------------------------------------------
// Writer

Writer::Writer(const fs::path& out) : out_(out) {
  tmp_ = fs::path(out.string() + "." + std::to_string(::getpid()) + ".tmp");
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw CacheError("cannot create " + tmp_.string() + ": " + std::strerror(errno));
}

Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void Writer::write_raw(const char* data, std::size_t n) {
  throw_if_interrupted("writing " + out_.string());
  while (n > 0) {
    const ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) {
        throw_if_interrupted("writing " + out_.string());
        continue;
      }
      throw CacheError("cannot write " + tmp_.string() + ": " + std::strerror(errno));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

void Writer::header(const std::string& name, uint64_t size, int64_t mtime, char type) {
  std::string pax;
  if (name.size() > kNameLen) pax += pax_record("path", name);
  if (size > kMaxOctal11) pax += pax_record("size", std::to_string(size));
  if (!pax.empty()) {
    std::string pax_name = "PaxHeaders/" + name;
    if (pax_name.size() > kNameLen) pax_name.resize(kNameLen);
    header(pax_name, pax.size(), mtime, 'x');
    write_raw(pax.data(), pax.size());
    const std::size_t pad = (kBlock - pax.size() % kBlock) % kBlock;
    const Block zero{};
    write_raw(zero.data(), pad);
  }
  Block b{};
  put_text(b, kName, kNameLen, name);
  put_octal(b, kMode, 8, 0644);
  put_octal(b, kUid, 8, 0);
  put_octal(b, kGid, 8, 0);
  put_octal(b, kSize, 12, std::min(size, kMaxOctal11));
  put_octal(b, kMtime, 12, static_cast<uint64_t>(std::max<int64_t>(0, mtime)));
  b[kType] = type;
  std::memcpy(b.data() + kMagic, "ustar", 6);  // "ustar\0"
  std::memcpy(b.data() + kVersion, "00", 2);
  put_text(b, kUname, 32, "root");
  put_text(b, kGname, 32, "root");
  put_octal(b, kChksum, 7, checksum(b));  // six digits, NUL ...
  b[kChksum + 7] = ' ';                   // ... then a space, as tar writes it
  write_raw(b.data(), kBlock);
}

void Writer::add(const std::string& name, uint64_t size, int64_t mtime, const modelzoo::cache::ByteSource& source) {
  header(name, size, mtime, '0');
  std::vector<char> buf(4 << 20);
  uint64_t done = 0;
  for (;;) {
    const std::size_t n = source(buf.data(), buf.size());
    if (n == 0) break;
    if (done + n > size) {
      throw FormatError("adding " + name + " to " + out_.string() + ": expected " + std::to_string(size) +
                        " bytes, the file grew while being read");
    }
    write_raw(buf.data(), n);
    done += n;
  }
  if (done != size) {
    throw FormatError("adding " + name + " to " + out_.string() + ": expected " + std::to_string(size) +
                      " bytes, got " + std::to_string(done) + " (the file shrank while being read)");
  }
  const Block zero{};
  write_raw(zero.data(), (kBlock - size % kBlock) % kBlock);
}

void Writer::add_bytes(const std::string& name, const std::string& data, int64_t mtime) {
  std::size_t pos = 0;
  add(name, data.size(), mtime, [&](char* buf, std::size_t n) {
    const std::size_t k = std::min(n, data.size() - pos);
    std::memcpy(buf, data.data() + pos, k);
    pos += k;
    return k;
  });
}

void Writer::commit() {
  const Block zero{};
  write_raw(zero.data(), kBlock);
  write_raw(zero.data(), kBlock);
  if (::fsync(fd_) != 0 && errno != EINVAL) {
    throw CacheError("cannot flush " + tmp_.string() + ": " + std::strerror(errno));
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw CacheError("cannot close " + tmp_.string() + ": " + std::strerror(errno));
  std::error_code ec;
  fs::rename(tmp_, out_, ec);
  if (ec) throw CacheError("cannot move " + tmp_.string() + " to " + out_.string() + ": " + ec.message());
  committed_ = true;
}

// ---------------------------------------------------------------------------
// Reader

namespace {

/// Parses a numeric header field: octal text (NUL/space terminated), or
/// GNU base-256 (first byte 0x80). nullopt when malformed.
std::optional<uint64_t> parse_number(const Block& b, std::size_t off, std::size_t width) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + off);
  if (p[0] & 0x80) {
    if (p[0] != 0x80) return std::nullopt;  // negative or oversized
    uint64_t v = 0;
    for (std::size_t i = 1; i < width; ++i) {
      if (v >> 56) return std::nullopt;
      v = (v << 8) | p[i];
    }
    return v;
  }
  std::size_t i = 0;
  while (i < width && p[i] == ' ') ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return std::nullopt;
    v = v * 8 + (p[i] - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return std::nullopt;
  }
  if (!any) return uint64_t{0};
  return v;
}

bool all_zero(const Block& b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == '\0'; });
}

uint64_t padded(uint64_t n) { return n + (kBlock - n % kBlock) % kBlock; }

/// Applies "<len> key=value\n" records.
void parse_pax(const std::string& data, const std::string& where, std::string* path, std::string* link,
               std::optional<uint64_t>* size) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    const auto sp = data.find(' ', pos);
    if (sp == std::string::npos || sp == pos || sp - pos > 20) {
      throw FormatError(where + ": malformed extended header record at byte " + std::to_string(pos));
    }
    const std::string len_text = data.substr(pos, sp - pos);
    if (!std::all_of(len_text.begin(), len_text.end(), ::isdigit)) {
      throw FormatError(where + ": malformed extended header record length \"" + len_text + "\"");
    }
    const uint64_t len = std::stoull(len_text);
    if (len <= sp - pos + 1 || len > data.size() - pos || data[pos + len - 1] != '\n') {
      throw FormatError(where + ": extended header record length " + len_text + " does not fit its data");
    }
    const std::string rec = data.substr(sp + 1, pos + len - 1 - (sp + 1));
    const auto eq = rec.find('=');
    if (eq == std::string::npos) throw FormatError(where + ": extended header record without '='");
    const std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
    if (key == "path") {
      *path = value;
    } else if (key == "linkpath") {
      *link = value;
    } else if (key == "size") {
      if (value.empty() || value.size() > 19 || !std::all_of(value.begin(), value.end(), ::isdigit)) {
        throw FormatError(where + ": extended header size \"" + value + "\" is not a number");
      }
      *size = std::stoull(value);
    }
    // Times, owners, comments and other keys do not matter here.
    pos += len;
  }
}

}  // namespace

std::string type_name(char type) {
  switch (type) {
    case '0': case '\0': case '7': return "regular file";
    case '1': return "hard link";
    case '2': return "symbolic link";
    case '3': return "character device";
    case '4': return "block device";
    case '5': return "directory";
    case '6': return "FIFO";
    default: return std::string("entry of type '") + (std::isprint(static_cast<unsigned char>(type)) ? type : '?') + "'";
  }
}

Index read_index(const fs::path& file) {
  File f(file);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw CacheError("cannot stat " + file.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw FormatError(file.string() + ": expected a tar file, found something else");
  Index idx;
  idx.file_size = static_cast<uint64_t>(st.st_size);
  const std::string where0 = file.string();

  uint64_t pos = 0;
  std::string next_path, next_link;
  std::optional<uint64_t> next_size;
  bool pending_extended = false;
  uint64_t pending_header = 0;
  for (;;) {
    if (idx.file_size - pos < kBlock) {
      throw FormatError(where0 + ": truncated: " +
                        (pos == idx.file_size ? std::string("the archive ends at byte ") + std::to_string(pos) +
                                                    " without the end-of-archive marker"
                                              : "a partial header block at byte " + std::to_string(pos)));
    }
    Block b{};
    if (!pread_all(f.fd, b.data(), kBlock, pos)) {
      throw FormatError(where0 + ": cannot read the header at byte " + std::to_string(pos));
    }
    if (all_zero(b)) {
      if (pending_extended) {
        throw FormatError(where0 + ": an extended header at byte " + std::to_string(pending_header) +
                          " is not followed by a member");
      }
      return idx;  // end-of-archive marker (the second zero block is optional for readers)
    }
    const std::string where = where0 + ": header at byte " + std::to_string(pos);
    const auto stored = parse_number(b, kChksum, 8);
    if (!stored || *stored != checksum(b)) {
      throw FormatError(where + ": bad header checksum (stored " + (stored ? std::to_string(*stored) : "garbage") +
                        ", computed " + std::to_string(checksum(b)) + "); not a tar archive or corrupted");
    }
    const std::string magic = field(b, kMagic, 6);
    if (magic != "ustar" && magic != "ustar ") {
      throw FormatError(where + ": expected a ustar header (magic \"ustar\"), found \"" + magic + "\"");
    }
    const auto size_field = parse_number(b, kSize, 12);
    if (!size_field) throw FormatError(where + ": malformed size field");
    const char type = b[kType];
    uint64_t size = *size_field;
    if (type != 'x' && type != 'g' && type != 'L' && type != 'K' && next_size) size = *next_size;

    const uint64_t data = pos + kBlock;
    if (size > idx.file_size - data) {
      throw FormatError(where0 + ": truncated: member \"" + field(b, kName, kNameLen) + "\" declares " +
                        std::to_string(size) + " bytes at byte " + std::to_string(data) +
                        " but the archive ends at byte " + std::to_string(idx.file_size));
    }
    const uint64_t next = data + padded(size);
    if (next > idx.file_size) {
      throw FormatError(where0 + ": truncated: the padding of member \"" + field(b, kName, kNameLen) +
                        "\" runs past the end of the archive (byte " + std::to_string(idx.file_size) + ")");
    }

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (size > kMaxExtendedHeader) {
        throw FormatError(where + ": extended header of " + std::to_string(size) + " bytes (at most " +
                          std::to_string(kMaxExtendedHeader) + " accepted)");
      }
      std::string text(size, '\0');
      if (!pread_all(f.fd, text.data(), size, data)) throw FormatError(where + ": cannot read the extended header");
      if (type == 'x') {
        parse_pax(text, where, &next_path, &next_link, &next_size);
      } else if (type == 'L') {
        next_path = std::string(text.c_str());
      } else if (type == 'K') {
        next_link = std::string(text.c_str());
      }  // 'g' (global records) changes nothing we use
      if (type != 'g' && !pending_extended) {
        pending_extended = true;
        pending_header = pos;
      }
      pos = next;
      continue;
    }

    Member m;
    m.type = type;
    m.size = size;
    m.header_offset = pending_extended ? pending_header : pos;
    m.data_offset = data;
    if (!next_path.empty()) {
      m.name = next_path;
    } else {
      const std::string prefix = field(b, kPrefix, kPrefixLen);
      m.name = (prefix.empty() ? "" : prefix + "/") + field(b, kName, kNameLen);
    }
    m.link = !next_link.empty() ? next_link : field(b, kLink, kLinkLen);
    idx.members.push_back(std::move(m));
    next_path.clear();
    next_link.clear();
    next_size.reset();
    pending_extended = false;
    pos = next;
  }
}

modelzoo::cache::ByteSource member_source(const fs::path& file, const Member& m) {
  auto f = std::make_shared<File>(file);
  auto offset = std::make_shared<uint64_t>(0);
  const uint64_t size = m.size, start = m.data_offset;
  const std::string name = m.name;
  return [f, offset, size, start, name](char* buf, std::size_t n) -> std::size_t {
    const uint64_t left = size - *offset;
    if (left == 0) return 0;
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(left, n));
    for (;;) {
      const ssize_t r = ::pread(f->fd, buf, want, static_cast<off_t>(start + *offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw CacheError("cannot read member " + name + " of " + f->path.string() + ": " + std::strerror(errno));
      if (r == 0) {
        throw FormatError(f->path.string() + ": truncated: member " + name + " ends after " +
                          std::to_string(*offset) + " of " + std::to_string(size) + " bytes");
      }
      *offset += static_cast<uint64_t>(r);
      return static_cast<std::size_t>(r);
    }
  };
}

std::string read_member(const fs::path& file, const Member& m) {
  std::string out(m.size, '\0');
  auto src = member_source(file, m);
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t n = src(out.data() + pos, out.size() - pos);
    if (n == 0) break;
    pos += n;
  }
  return out;
}

}  // namespace cache_tool::tar
