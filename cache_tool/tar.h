#pragma once
/// \file
/// Just enough tar for bundles: a writer of POSIX ustar archives and an
/// indexer that reads the member table of an archive without extracting
/// anything, checking every length against the file size.
///
/// Format (POSIX.1-1988 ustar): each member is a 512-byte header block —
/// name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1]
/// linkname[100] magic "ustar\0" version "00" uname[32] gname[32]
/// devmajor[8] devminor[8] prefix[155] — followed by the data padded to a
/// multiple of 512 bytes; numbers are octal text; the checksum is the sum of
/// the header's bytes with the checksum field taken as spaces. Two zero
/// blocks end the archive. Names longer than 100 bytes and sizes of 8 GiB or
/// more are carried by a POSIX.1-2001 extended header (typeflag 'x', records
/// "<len> path=<name>\n" / "<len> size=<n>\n") before the member, as GNU and
/// BSD tar write and read them.
///
/// The indexer also understands GNU long names ('L'/'K') and base-256 sizes
/// so that bundles repacked with GNU tar still read; it reports every member
/// with its type and leaves policy (which types and names are acceptable) to
/// the caller.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "modelzoo/cache/publish.h"

namespace cache_tool::tar {

/// Writes an archive into a temporary file beside the destination; commit()
/// renames it into place, so a failed or interrupted write leaves nothing
/// under the destination's name.
class Writer {
 public:
  /// Creates `<out>.<pid>.tmp`. Throws modelzoo::Error naming the path.
  explicit Writer(const std::filesystem::path& out);
  /// Removes the temporary file unless committed.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Appends a regular file of exactly `size` bytes read from `source`
  /// (FormatError when the source yields more or fewer).
  void add(const std::string& name, uint64_t size, int64_t mtime, const modelzoo::cache::ByteSource& source);
  /// Appends a regular file holding `data`.
  void add_bytes(const std::string& name, const std::string& data, int64_t mtime);
  /// Writes the end-of-archive blocks, flushes and renames to the destination.
  void commit();
  /// Bytes written so far.
  uint64_t bytes_written() const { return written_; }

 private:
  void write_raw(const char* data, std::size_t n);
  void header(const std::string& name, uint64_t size, int64_t mtime, char type);
  std::filesystem::path out_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

/// One member as the archive declares it.
struct Member {
  std::string name;          ///< full name (pax path / GNU long name / prefix + name)
  char type = '0';           ///< typeflag ('0' regular, '1' hard link, '2' symlink, '3'/'4' device, '5' dir, '6' fifo, ...)
  std::string link;          ///< link target for '1'/'2'
  uint64_t size = 0;         ///< data bytes
  uint64_t header_offset = 0;  ///< where its (first) header starts
  uint64_t data_offset = 0;  ///< where its data starts
};

/// The member table of an archive.
struct Index {
  std::vector<Member> members;  ///< in archive order
  uint64_t file_size = 0;       ///< bytes of the archive file
};

/// Reads every header of `file`. Throws modelzoo::FormatError naming the file,
/// the member and the offset for a bad checksum, a malformed number, a
/// member whose data runs past the end of the file, a missing end-of-archive
/// marker (truncation), or a malformed extended header.
Index read_index(const std::filesystem::path& file);

/// A source yielding exactly the data of `m` (positional reads; the archive
/// is opened once per source). Throws modelzoo::FormatError when the file
/// turns out shorter than the index said.
modelzoo::cache::ByteSource member_source(const std::filesystem::path& file, const Member& m);

/// The data of `m` as a string (for small members such as the manifest).
std::string read_member(const std::filesystem::path& file, const Member& m);

/// Human name of a typeflag: "regular file", "hard link", "symbolic link", ...
std::string type_name(char type);

}  // namespace cache_tool::tar
