#include "files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>  // invalid_argument: a path the user gave cannot be written (exit 2)
#include <system_error>

namespace attnlab {

void write_file_atomic(const std::string& path, std::string_view content) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0)
    throw std::invalid_argument(path + ": cannot create a temporary file in '" + dir.string() +
                                "': " + std::strerror(errno));
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw std::invalid_argument(path + ": " + what + ": " + std::strerror(err));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) fail("cannot finish the file");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw std::invalid_argument(path + ": close failed: " + std::strerror(err));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw std::invalid_argument(path + ": cannot rename the finished file into place: " + std::strerror(err));
  }
}

void ensure_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw std::invalid_argument(dir +
                                ": cannot create the output directory: " + (ec ? ec.message() : "not a directory"));
}

namespace {

/// `dir` is a directory this process may create files in, or why not.
std::string unwritable_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return "the directory '" + dir.string() + "' does not exist";
  if (!std::filesystem::is_directory(dir, ec)) return "'" + dir.string() + "' is not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return "the directory '" + dir.string() + "' is not writable";
  return {};
}

}  // namespace

void check_output_file(const std::string& option, const std::string& path, const std::string& example) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::invalid_argument(option + ": the path is empty");
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec))
    throw std::invalid_argument(option + ": '" + path + "' is a directory; expected a file name such as " + example);
  if (const std::string why = unwritable_directory(p.has_parent_path() ? p.parent_path() : fs::path(".")); !why.empty())
    throw std::invalid_argument(option + ": " + why);
}

void check_output_directory(const std::string& option, const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) throw std::invalid_argument(option + ": the path is empty");
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(dir), ec);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec))
    throw std::invalid_argument(option + ": '" + dir + "' exists and is not a directory");
  while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();  // created later
  if (const std::string why = unwritable_directory(p); !why.empty())
    throw std::invalid_argument(option + ": " + why + " (to hold '" + dir + "')");
}

}  // namespace attnlab
