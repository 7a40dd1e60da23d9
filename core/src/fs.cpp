// fs.cpp — goro::fs: files and directories through the blocking-syscall path.
//
// The problem: a read(2) on a regular file can block its thread for milliseconds (a page
// cache miss, a slow disk, NFS), and regular files cannot go to a poller: epoll refuses
// them with EPERM, and io_uring is neither everywhere nor simple. Approaches:
//  - a thread pool that runs file calls and wakes the goroutine when done (libuv, Tokio's
//    spawn_blocking): two thread wake-ups on every call, even on a page-cache hit that
//    returns in a microsecond — most file calls;
//  - Go's: run the call on the goroutine's own thread, but tell the runtime first
//    (entersyscall). The P stays attached on the fast path; sysmon takes it and hands it
//    to another M if the call is still running a tick later (syscall.cpp, sysmon.cpp).
// goro does what Go does: every system call here runs inside goro::blocking(). A call
// that returns quickly costs a few stores; one that blocks costs a P hand-off.
//
// Two details follow from running the call on a thread the goroutine may leave:
//  - errno is per thread and exit_syscall may resume the goroutine on another M, so each
//    call's errno is read inside the blocking() callable, before exit_syscall.
//  - Nothing inside the callable touches the runtime (no channels, no locks of goro's);
//    allocating (read_dir's vector) is fine.
//
// EINTR is retried inside the same blocking() call. close(2) is not retried: on Linux the
// descriptor is gone even when close returns EINTR, and retrying could close a descriptor
// another thread has just been given.
#include <goro/core/blocking.hpp>
#include <goro/core/fs.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace goro::fs {

namespace {

// A system call's outcome: its result, or -1 with the errno it set.
struct Sys {
  long r;
  int err;
};

// Runs `call` (returning -1 and setting errno on failure) through the blocking-syscall
// path, retrying EINTR. errno is captured before blocking() returns (see the top).
template <class F>
Sys sys(F&& call) {
  return goro::blocking([&]() -> Sys {
    for (;;) {
      long r = static_cast<long>(call());
      if (r != -1) return {r, 0};
      if (errno != EINTR) return {-1, errno};
    }
  });
}

std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

[[noreturn]] void throw_error(const std::error_code& ec, const char* op, std::string path) {
  throw Error(ec, op, std::move(path));
}

void throw_if(const std::error_code& ec, const char* op, const std::filesystem::path& path) {
  if (ec) throw_error(ec, op, path.string());
}

// Linux moves at most this much in one read/write (MAX_RW_COUNT); asking for more is
// fine but clamping keeps the count in ssize_t range on every platform.
constexpr std::size_t kMaxIo = 0x7ffff000;

int open_flags(OpenFlags f) noexcept {
  int flags = O_CLOEXEC;
  if (has(f, kReadWrite)) {
    flags |= O_RDWR;
  } else if (has(f, kWrite)) {
    flags |= O_WRONLY;
  } else {
    flags |= O_RDONLY;
  }
  if (has(f, kCreate)) flags |= O_CREAT;
  if (has(f, kTruncate)) flags |= O_TRUNC;
  if (has(f, kAppend)) flags |= O_APPEND;
  if (has(f, kExclusive)) flags |= O_EXCL;
  if (has(f, kSync)) flags |= O_SYNC;
  return flags;
}

FileType type_of_mode(mode_t m) noexcept {
  switch (m & S_IFMT) {
    case S_IFREG:
      return FileType::kRegular;
    case S_IFDIR:
      return FileType::kDirectory;
    case S_IFLNK:
      return FileType::kSymlink;
    case S_IFBLK:
      return FileType::kBlockDevice;
    case S_IFCHR:
      return FileType::kCharDevice;
    case S_IFIFO:
      return FileType::kFifo;
    case S_IFSOCK:
      return FileType::kSocket;
    default:
      return FileType::kUnknown;
  }
}

FileType type_of_dirent(unsigned char t) noexcept {
  switch (t) {
    case DT_REG:
      return FileType::kRegular;
    case DT_DIR:
      return FileType::kDirectory;
    case DT_LNK:
      return FileType::kSymlink;
    case DT_BLK:
      return FileType::kBlockDevice;
    case DT_CHR:
      return FileType::kCharDevice;
    case DT_FIFO:
      return FileType::kFifo;
    case DT_SOCK:
      return FileType::kSocket;
    default:
      return FileType::kUnknown;
  }
}

FileInfo info_of(const struct stat& st) noexcept {
  FileInfo fi;
  fi.type = type_of_mode(st.st_mode);
  fi.size = static_cast<std::uint64_t>(st.st_size);
  fi.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  fi.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  fi.inode = static_cast<std::uint64_t>(st.st_ino);
  fi.device = static_cast<std::uint64_t>(st.st_dev);
  fi.links = static_cast<std::uint64_t>(st.st_nlink);
  return fi;
}

// Writes all n bytes of data to fd (at offset, unless offset < 0); returns the bytes
// written, setting ec on failure.
std::size_t write_all(int fd, const void* data, std::size_t n, std::int64_t offset,
                      std::error_code& ec) noexcept {
  const char* p = static_cast<const char*>(data);
  std::size_t done = 0;
  ec.clear();
  while (done < n) {
    const std::size_t chunk = std::min(n - done, kMaxIo);
    Sys s;
    if (offset < 0) {
      s = sys([&] { return ::write(fd, p + done, chunk); });
    } else {
      const auto off = static_cast<off_t>(offset + static_cast<std::int64_t>(done));
      s = sys([&] { return ::pwrite(fd, p + done, chunk, off); });
    }
    if (s.r < 0) {
      ec = errno_code(s.err);
      break;
    }
    if (s.r == 0) {  // a regular file never does this; don't spin if something does
      ec = std::make_error_code(std::errc::io_error);
      break;
    }
    done += static_cast<std::size_t>(s.r);
  }
  return done;
}

// close(2) through the syscall path (it may flush to a remote file system). EINTR counts
// as success: the descriptor is gone either way on Linux.
int close_fd(int fd) noexcept {
  return goro::blocking([fd] { return ::close(fd) == 0 || errno == EINTR ? 0 : errno; });
}

FileInfo stat_path(const std::filesystem::path& path, bool follow, std::error_code& ec) {
  struct stat st;
  const int flags = follow ? 0 : AT_SYMLINK_NOFOLLOW;
  Sys s = sys([&] { return ::fstatat(AT_FDCWD, path.c_str(), &st, flags); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return {};
  }
  ec.clear();
  return info_of(st);
}

}  // namespace

Error::Error(std::error_code ec, std::string op, std::string path)
    : std::system_error(ec, op + " " + path), op_(std::move(op)), path_(std::move(path)) {}

// ---- File ---------------------------------------------------------------------------------

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close_fd(fd_);
    fd_ = std::exchange(o.fd_, -1);
    name_ = std::move(o.name_);
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) close_fd(fd_);
}

void File::close(std::error_code& ec) noexcept {
  if (fd_ < 0) {
    ec = errno_code(EBADF);
    return;
  }
  const int err = close_fd(std::exchange(fd_, -1));
  if (err != 0) {
    ec = errno_code(err);
  } else {
    ec.clear();
  }
}

void File::close() {
  std::error_code ec;
  close(ec);
  if (ec) throw_error(ec, "close", name_);
}

std::size_t File::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  const std::size_t len = std::min(n, kMaxIo);
  Sys s = sys([&] { return ::read(fd_, buf, len); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(s.r);
}

std::size_t File::read(void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t r = read(buf, n, ec);
  if (ec) throw_error(ec, "read", name_);
  return r;
}

std::size_t File::write(const void* data, std::size_t n, std::error_code& ec) noexcept {
  return write_all(fd_, data, n, -1, ec);
}

std::size_t File::write(const void* data, std::size_t n) {
  std::error_code ec;
  std::size_t r = write(data, n, ec);
  if (ec) throw_error(ec, "write", name_);
  return r;
}

std::size_t File::pread(void* buf, std::size_t n, std::uint64_t offset,
                        std::error_code& ec) noexcept {
  char* p = static_cast<char*>(buf);
  std::size_t done = 0;
  ec.clear();
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) {
    ec = errno_code(EINVAL);
    return 0;
  }
  while (done < n) {
    const std::size_t chunk = std::min(n - done, kMaxIo);
    const auto off = static_cast<off_t>(offset + done);
    Sys s = sys([&] { return ::pread(fd_, p + done, chunk, off); });
    if (s.r < 0) {
      ec = errno_code(s.err);
      break;
    }
    if (s.r == 0) break;  // end of file
    done += static_cast<std::size_t>(s.r);
  }
  return done;
}

std::size_t File::pread(void* buf, std::size_t n, std::uint64_t offset) {
  std::error_code ec;
  std::size_t r = pread(buf, n, offset, ec);
  if (ec) throw_error(ec, "read", name_);
  return r;
}

std::size_t File::pwrite(const void* data, std::size_t n, std::uint64_t offset,
                         std::error_code& ec) noexcept {
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) {
    ec = errno_code(EINVAL);
    return 0;
  }
  return write_all(fd_, data, n, static_cast<std::int64_t>(offset), ec);
}

std::size_t File::pwrite(const void* data, std::size_t n, std::uint64_t offset) {
  std::error_code ec;
  std::size_t r = pwrite(data, n, offset, ec);
  if (ec) throw_error(ec, "write", name_);
  return r;
}

std::uint64_t File::seek(std::int64_t offset, Whence whence, std::error_code& ec) noexcept {
  const int w = whence == Whence::kSet       ? SEEK_SET
                : whence == Whence::kCurrent ? SEEK_CUR
                                             : SEEK_END;
  Sys s = sys([&] { return ::lseek(fd_, static_cast<off_t>(offset), w); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return 0;
  }
  ec.clear();
  return static_cast<std::uint64_t>(s.r);
}

std::uint64_t File::seek(std::int64_t offset, Whence whence) {
  std::error_code ec;
  std::uint64_t r = seek(offset, whence, ec);
  if (ec) throw_error(ec, "seek", name_);
  return r;
}

void File::truncate(std::uint64_t size, std::error_code& ec) noexcept {
  if (size > static_cast<std::uint64_t>(LLONG_MAX)) {
    ec = errno_code(EINVAL);
    return;
  }
  Sys s = sys([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); });
  if (s.r < 0) {
    ec = errno_code(s.err);
  } else {
    ec.clear();
  }
}

void File::truncate(std::uint64_t size) {
  std::error_code ec;
  truncate(size, ec);
  if (ec) throw_error(ec, "truncate", name_);
}

void File::fsync(std::error_code& ec) noexcept {
  Sys s = sys([&] { return ::fsync(fd_); });
  if (s.r < 0) {
    ec = errno_code(s.err);
  } else {
    ec.clear();
  }
}

void File::fsync() {
  std::error_code ec;
  fsync(ec);
  if (ec) throw_error(ec, "fsync", name_);
}

FileInfo File::stat(std::error_code& ec) const noexcept {
  struct stat st;
  Sys s = sys([&] { return ::fstat(fd_, &st); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return {};
  }
  ec.clear();
  return info_of(st);
}

FileInfo File::stat() const {
  std::error_code ec;
  FileInfo fi = stat(ec);
  if (ec) throw_error(ec, "stat", name_);
  return fi;
}

// ---- open, create -------------------------------------------------------------------------

File open(const std::filesystem::path& path, OpenFlags flags, std::uint32_t perm,
          std::error_code& ec) {
  const int oflags = open_flags(flags);
  Sys s = sys([&] { return ::open(path.c_str(), oflags, static_cast<mode_t>(perm)); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return File();
  }
  ec.clear();
  return File(static_cast<int>(s.r), path.string());
}

File open(const std::filesystem::path& path, OpenFlags flags, std::error_code& ec) {
  return fs::open(path, flags, 0666, ec);
}

File open(const std::filesystem::path& path, std::error_code& ec) {
  return fs::open(path, kRead, 0666, ec);
}

File open(const std::filesystem::path& path, OpenFlags flags, std::uint32_t perm) {
  std::error_code ec;
  File f = fs::open(path, flags, perm, ec);
  throw_if(ec, "open", path);
  return f;
}

File create(const std::filesystem::path& path, std::error_code& ec) {
  return fs::open(path, kReadWrite | kCreate | kTruncate, 0666, ec);
}

File create(const std::filesystem::path& path) {
  return fs::open(path, kReadWrite | kCreate | kTruncate, 0666);
}

// ---- whole files --------------------------------------------------------------------------

namespace {

// read_file's and write_file's work; on failure *op names the step that failed, for the
// throwing overloads' message.
std::string read_whole(const std::filesystem::path& path, std::error_code& ec, const char** op) {
  *op = "open";
  File f = fs::open(path, kRead, 0, ec);
  if (ec) return {};
  *op = "read";
  // Size the buffer from fstat, one byte more so that the read confirming end of file
  // needs no growth; files whose size stat does not know (/proc) grow by doubling.
  struct stat st;
  Sys s = sys([&] { return ::fstat(f.fd(), &st); });
  if (s.r < 0) {
    ec = errno_code(s.err);
    return {};
  }
  std::size_t cap = 512;
  if (S_ISREG(st.st_mode) && st.st_size > 0) cap = static_cast<std::size_t>(st.st_size) + 1;
  std::string out;
  out.resize(cap);
  std::size_t len = 0;
  for (;;) {
    if (len == out.size()) out.resize(out.size() * 2);
    const std::size_t want = std::min(out.size() - len, kMaxIo);
    char* dst = out.data() + len;
    Sys r = sys([&] { return ::read(f.fd(), dst, want); });
    if (r.r < 0) {
      ec = errno_code(r.err);
      return {};
    }
    if (r.r == 0) break;
    len += static_cast<std::size_t>(r.r);
  }
  out.resize(len);
  *op = "close";
  f.close(ec);
  if (ec) return {};
  return out;
}

void write_whole(const std::filesystem::path& path, std::string_view data, std::uint32_t perm,
                 std::error_code& ec, const char** op) {
  *op = "open";
  File f = fs::open(path, kWrite | kCreate | kTruncate, perm, ec);
  if (ec) return;
  *op = "write";
  write_all(f.fd(), data.data(), data.size(), -1, ec);
  if (ec) return;
  *op = "close";
  f.close(ec);  // may report a deferred write error (NFS)
}

}  // namespace

std::string read_file(const std::filesystem::path& path, std::error_code& ec) {
  const char* op;
  return read_whole(path, ec, &op);
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  const char* op;
  std::string out = read_whole(path, ec, &op);
  throw_if(ec, op, path);
  return out;
}

void write_file(const std::filesystem::path& path, std::string_view data, std::uint32_t perm,
                std::error_code& ec) {
  const char* op;
  write_whole(path, data, perm, ec, &op);
}

void write_file(const std::filesystem::path& path, std::string_view data, std::error_code& ec) {
  fs::write_file(path, data, 0666, ec);
}

void write_file(const std::filesystem::path& path, std::string_view data, std::uint32_t perm) {
  std::error_code ec;
  const char* op;
  write_whole(path, data, perm, ec, &op);
  throw_if(ec, op, path);
}

// ---- metadata and directories -------------------------------------------------------------

FileInfo stat(const std::filesystem::path& path, std::error_code& ec) {
  return stat_path(path, true, ec);
}

FileInfo stat(const std::filesystem::path& path) {
  std::error_code ec;
  FileInfo fi = stat_path(path, true, ec);
  throw_if(ec, "stat", path);
  return fi;
}

FileInfo lstat(const std::filesystem::path& path, std::error_code& ec) {
  return stat_path(path, false, ec);
}

FileInfo lstat(const std::filesystem::path& path) {
  std::error_code ec;
  FileInfo fi = stat_path(path, false, ec);
  throw_if(ec, "lstat", path);
  return fi;
}

std::vector<DirEntry> read_dir(const std::filesystem::path& path, std::error_code& ec) {
  File dir = fs::open(path, kRead, 0, ec);  // O_RDONLY; fdopendir checks it is a directory
  if (ec) return {};
  std::vector<DirEntry> out;
  // One blocking() call for the whole listing: readdir(3) calls getdents64 when its
  // buffer runs dry, and fstatat for file systems that do not fill in d_type.
  const int err = goro::blocking([&]() -> int {
    DIR* d = ::fdopendir(dir.fd());
    if (d == nullptr) return errno;
    dir.release();  // closedir owns it now
    int e = 0;
    for (;;) {
      errno = 0;
      const dirent* de = ::readdir(d);
      if (de == nullptr) {
        e = errno;  // 0 at the end of the directory
        break;
      }
      if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
      FileType t = type_of_dirent(de->d_type);
      if (t == FileType::kUnknown) {
        struct stat st;
        if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          t = type_of_mode(st.st_mode);
        }
      }
      out.push_back(DirEntry{de->d_name, t});
    }
    ::closedir(d);
    return e;
  });
  if (err != 0) {
    ec = errno_code(err);
    return {};
  }
  std::sort(out.begin(), out.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  ec.clear();
  return out;
}

std::vector<DirEntry> read_dir(const std::filesystem::path& path) {
  std::error_code ec;
  std::vector<DirEntry> out = read_dir(path, ec);
  throw_if(ec, "readdir", path);
  return out;
}

void mkdir(const std::filesystem::path& path, std::uint32_t perm, std::error_code& ec) {
  Sys s = sys([&] { return ::mkdir(path.c_str(), static_cast<mode_t>(perm)); });
  if (s.r < 0) {
    ec = errno_code(s.err);
  } else {
    ec.clear();
  }
}

void mkdir(const std::filesystem::path& path, std::error_code& ec) { fs::mkdir(path, 0777, ec); }

void mkdir(const std::filesystem::path& path, std::uint32_t perm) {
  std::error_code ec;
  fs::mkdir(path, perm, ec);
  throw_if(ec, "mkdir", path);
}

void remove(const std::filesystem::path& path, std::error_code& ec) {
  // unlink first (the common case); a directory answers EISDIR (Linux) or EPERM (POSIX),
  // then rmdir. Go's os.Remove does the same.
  Sys s = sys([&] { return ::unlink(path.c_str()); });
  if (s.r < 0 && (s.err == EISDIR || s.err == EPERM)) {
    Sys d = sys([&] { return ::rmdir(path.c_str()); });
    // Report rmdir's error only if it really is a directory; otherwise unlink's.
    if (d.r == 0 || d.err != ENOTDIR) s = d;
  }
  if (s.r < 0) {
    ec = errno_code(s.err);
  } else {
    ec.clear();
  }
}

void remove(const std::filesystem::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  throw_if(ec, "remove", path);
}

void rename(const std::filesystem::path& from, const std::filesystem::path& to,
            std::error_code& ec) {
  Sys s = sys([&] { return ::rename(from.c_str(), to.c_str()); });
  if (s.r < 0) {
    ec = errno_code(s.err);
  } else {
    ec.clear();
  }
}

void rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw_error(ec, "rename", from.string() + " " + to.string());
}

}  // namespace goro::fs
