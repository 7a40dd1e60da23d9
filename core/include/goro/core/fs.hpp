// goro/core/fs.hpp — files and directories for goroutines (Go's os.File, os.ReadFile, ...).
//
//   goro::fs::write_file("/tmp/greeting", "hello\n");
//   std::string s = goro::fs::read_file("/tmp/greeting");
//
//   goro::fs::File f = goro::fs::open("/var/log/app.log", goro::fs::kWrite | goro::fs::kCreate |
//                                                          goro::fs::kAppend);
//   f.write("started\n");
//
//   std::error_code ec;                        // or without throwing:
//   auto entries = goro::fs::read_dir("/etc", ec);
//   if (ec) ...
//
// Every system call runs through goro::blocking() (core/include/goro/core/blocking.hpp):
// the goroutine's thread blocks in the kernel, but its P is handed to another thread if
// the call takes longer than a sysmon tick, so the other goroutines keep running. A call
// that returns quickly (a page-cache hit) costs a few stores on top of the syscall.
// Regular files cannot be polled (epoll refuses them), so this is how Go does file I/O
// too. The functions also work outside goro::run(), as plain system calls.
//
// Errors, Asio's convention: every operation has
//  - an overload taking a trailing std::error_code& — it never throws a system error: on
//    failure it sets the code (errno, std::system_category(); compare it with std::errc,
//    e.g. ec == std::errc::no_such_file_or_directory) and returns an empty/zero result,
//    on success it clears the code;
//  - an overload without it that throws goro::fs::Error (a std::system_error) whose what()
//    names the operation and the path, as Go's *PathError does:
//    "open /no/such/file: No such file or directory".
// Both may still throw std::bad_alloc. EINTR is retried everywhere (except close(2),
// which Linux completes even when interrupted).
//
// Partial transfers: read() is one read(2) and may return fewer bytes than asked (0 means
// end of file); pread() keeps reading until the buffer is full or the file ends; write()
// and pwrite() keep writing until every byte is written or an error occurs (with the
// error_code overloads they return how many bytes made it).
//
// A File is a movable RAII handle on a descriptor opened with O_CLOEXEC; destroying an
// open File closes it (ignoring errors: call close() to see them). A File is not
// synchronized: one goroutine at a time, or your own Mutex (pread/pwrite on a shared
// File are safe from several goroutines, as the kernel's are).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace goro::fs {

// Thrown by the throwing overloads: the errno as code(), plus what Go's *PathError
// carries — the operation ("open", "read", ...) and the path it was applied to.
class Error : public std::system_error {
 public:
  Error(std::error_code ec, std::string op, std::string path);
  const std::string& op() const noexcept { return op_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string op_;
  std::string path_;
};

// How to open a file: access (kRead, kWrite or both) plus creation flags.
enum class OpenFlags : unsigned {
  kRead = 1u << 0,   // O_RDONLY (with kWrite: O_RDWR)
  kWrite = 1u << 1,  // O_WRONLY (with kRead: O_RDWR)
  kReadWrite = kRead | kWrite,
  kCreate = 1u << 2,     // O_CREAT: create it if missing (with the perm given to open)
  kTruncate = 1u << 3,   // O_TRUNC: empty it on open (needs kWrite)
  kAppend = 1u << 4,     // O_APPEND: every write goes to the end
  kExclusive = 1u << 5,  // O_EXCL: with kCreate, fail with EEXIST if it exists
  kSync = 1u << 6,       // O_SYNC: each write reaches the device before returning
};
constexpr OpenFlags operator|(OpenFlags a, OpenFlags b) noexcept {
  return static_cast<OpenFlags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr OpenFlags operator&(OpenFlags a, OpenFlags b) noexcept {
  return static_cast<OpenFlags>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
constexpr bool has(OpenFlags set, OpenFlags f) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) == static_cast<unsigned>(f);
}
// Short names: goro::fs::kWrite | goro::fs::kCreate | goro::fs::kTruncate.
inline constexpr OpenFlags kRead = OpenFlags::kRead;
inline constexpr OpenFlags kWrite = OpenFlags::kWrite;
inline constexpr OpenFlags kReadWrite = OpenFlags::kReadWrite;
inline constexpr OpenFlags kCreate = OpenFlags::kCreate;
inline constexpr OpenFlags kTruncate = OpenFlags::kTruncate;
inline constexpr OpenFlags kAppend = OpenFlags::kAppend;
inline constexpr OpenFlags kExclusive = OpenFlags::kExclusive;
inline constexpr OpenFlags kSync = OpenFlags::kSync;

enum class FileType : unsigned char {
  kUnknown,
  kRegular,
  kDirectory,
  kSymlink,
  kBlockDevice,
  kCharDevice,
  kFifo,
  kSocket,
};

// What stat(2) says about a file (Go's os.FileInfo).
struct FileInfo {
  FileType type = FileType::kUnknown;
  std::uint64_t size = 0;  // bytes
  std::uint32_t mode = 0;  // permission bits, including setuid/setgid/sticky (07777)
  std::chrono::system_clock::time_point mtime{};  // last modification
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::uint64_t links = 0;

  bool is_regular() const noexcept { return type == FileType::kRegular; }
  bool is_directory() const noexcept { return type == FileType::kDirectory; }
};

// One entry of a directory listing: its name (not a path) and its type (of the entry
// itself: a symlink is kSymlink, not followed).
struct DirEntry {
  std::string name;
  FileType type = FileType::kUnknown;
  friend bool operator==(const DirEntry&, const DirEntry&) = default;
};

enum class Whence : unsigned char { kSet, kCurrent, kEnd };  // SEEK_SET, SEEK_CUR, SEEK_END

class File {
 public:
  // A closed File.
  File() noexcept = default;
  // Takes ownership of an open descriptor; name is used in error messages.
  explicit File(int fd, std::string name = {}) noexcept : fd_(fd), name_(std::move(name)) {}
  File(File&& o) noexcept : fd_(std::exchange(o.fd_, -1)), name_(std::move(o.name_)) {}
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  bool is_open() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return is_open(); }
  int fd() const noexcept { return fd_; }
  // The path it was opened with.
  const std::string& name() const noexcept { return name_; }
  // Gives up ownership: returns the descriptor (-1 if closed) and leaves the File closed.
  int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the descriptor (the File is closed afterwards even on error). Closing a closed
  // File is EBADF.
  void close();
  void close(std::error_code& ec) noexcept;

  // One read(2) of up to n bytes at the file offset: the count read, 0 at end of file.
  std::size_t read(void* buf, std::size_t n);
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;

  // Writes all n bytes at the file offset (looping over short writes); returns n, or with
  // ec, the bytes written before the error.
  std::size_t write(const void* data, std::size_t n);
  std::size_t write(const void* data, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write(std::string_view data) { return write(data.data(), data.size()); }
  std::size_t write(std::string_view data, std::error_code& ec) noexcept {
    return write(data.data(), data.size(), ec);
  }

  // pread(2) until n bytes are read or the file ends (Go's ReadAt): the count read, less
  // than n only at end of file. The file offset does not move.
  std::size_t pread(void* buf, std::size_t n, std::uint64_t offset);
  std::size_t pread(void* buf, std::size_t n, std::uint64_t offset, std::error_code& ec) noexcept;

  // pwrite(2) of all n bytes at offset (Go's WriteAt). The file offset does not move.
  std::size_t pwrite(const void* data, std::size_t n, std::uint64_t offset);
  std::size_t pwrite(const void* data, std::size_t n, std::uint64_t offset,
                     std::error_code& ec) noexcept;
  std::size_t pwrite(std::string_view data, std::uint64_t offset) {
    return pwrite(data.data(), data.size(), offset);
  }
  std::size_t pwrite(std::string_view data, std::uint64_t offset, std::error_code& ec) noexcept {
    return pwrite(data.data(), data.size(), offset, ec);
  }

  // lseek(2): moves the file offset; returns the new one.
  std::uint64_t seek(std::int64_t offset, Whence whence = Whence::kSet);
  std::uint64_t seek(std::int64_t offset, Whence whence, std::error_code& ec) noexcept;

  // ftruncate(2).
  void truncate(std::uint64_t size);
  void truncate(std::uint64_t size, std::error_code& ec) noexcept;

  // fsync(2): the file's data and metadata reach the device.
  void fsync();
  void fsync(std::error_code& ec) noexcept;

  // fstat(2).
  FileInfo stat() const;
  FileInfo stat(std::error_code& ec) const noexcept;

 private:
  int fd_ = -1;
  std::string name_;
};

// open(2) with O_CLOEXEC; perm (before the umask) applies when kCreate creates the file.
File open(const std::filesystem::path& path, OpenFlags flags = kRead, std::uint32_t perm = 0666);
File open(const std::filesystem::path& path, std::error_code& ec);
File open(const std::filesystem::path& path, OpenFlags flags, std::error_code& ec);
File open(const std::filesystem::path& path, OpenFlags flags, std::uint32_t perm,
          std::error_code& ec);

// Go's os.Create: read-write, created with 0666 if missing, truncated if present.
File create(const std::filesystem::path& path);
File create(const std::filesystem::path& path, std::error_code& ec);

// The whole file as a string (Go's os.ReadFile).
std::string read_file(const std::filesystem::path& path);
std::string read_file(const std::filesystem::path& path, std::error_code& ec);

// Creates or truncates the file (perm applies if created) and writes all of data (Go's
// os.WriteFile). No fsync: open the File and call fsync() when it must survive a crash.
void write_file(const std::filesystem::path& path, std::string_view data,
                std::uint32_t perm = 0666);
void write_file(const std::filesystem::path& path, std::string_view data, std::error_code& ec);
void write_file(const std::filesystem::path& path, std::string_view data, std::uint32_t perm,
                std::error_code& ec);

// stat(2) follows symbolic links; lstat(2) describes the link itself.
FileInfo stat(const std::filesystem::path& path);
FileInfo stat(const std::filesystem::path& path, std::error_code& ec);
FileInfo lstat(const std::filesystem::path& path);
FileInfo lstat(const std::filesystem::path& path, std::error_code& ec);

// The entries of a directory, sorted by name, without "." and ".." (Go's os.ReadDir).
std::vector<DirEntry> read_dir(const std::filesystem::path& path);
std::vector<DirEntry> read_dir(const std::filesystem::path& path, std::error_code& ec);

// mkdir(2): one directory (its parent must exist); EEXIST if something is there.
void mkdir(const std::filesystem::path& path, std::uint32_t perm = 0777);
void mkdir(const std::filesystem::path& path, std::error_code& ec);
void mkdir(const std::filesystem::path& path, std::uint32_t perm, std::error_code& ec);

// Removes a file, a symbolic link or an empty directory (Go's os.Remove).
void remove(const std::filesystem::path& path);
void remove(const std::filesystem::path& path, std::error_code& ec);

// rename(2): atomically replaces `to` if it exists (same file system only).
void rename(const std::filesystem::path& from, const std::filesystem::path& to);
void rename(const std::filesystem::path& from, const std::filesystem::path& to,
            std::error_code& ec);

}  // namespace goro::fs
